// The demo provider's "model": a deterministic, in-character reply built from templates, so the
// app is usable without an API key and tests can predict every word.

export interface DemoTurn {
  role: string;
  text: string;
}

export interface DemoReply {
  text: string;
  /** True when the reply is in Chinese (the user's last message contains Han characters). */
  chinese: boolean;
}

const HAN = /\p{Script=Han}/u;
// Our personas open with "You are <Name>, …" (en) or "你是<Name>，…" (zh).
const NAME_EN = /^\s*You are ([^,.;:\n]{1,80})/;
const NAME_ZH = /^\s*你是([^，。；：,.;:\n]{1,40})/;

const EN = {
  fallbackName: 'your guide',
  open: [
    (q: string) => `"${q}" — I heard you, and I have been turning it over ever since.`,
    (q: string) => `You said "${q}", and that is not something I will brush aside.`,
    (q: string) => `"${q}" — now that is a thought worth following.`,
  ],
  openSilent: 'You have not said much yet, and I am listening.',
  name: (n: string) => `I am ${n}, and I have learned to trust a moment like this.`,
  middle: [
    'There is more here than first meets the eye, and I mean to find out what.',
    'Let us take it one careful step at a time, together.',
    'Every good story turns on a moment like this one.',
    'I have a hunch, but I would rather hear yours first.',
  ],
  close: [
    'What would you like to do next?',
    'Where shall we go from here?',
    'Tell me — what is your next move?',
    'What do you make of it?',
  ],
  separator: ' ',
};

const ZH = {
  fallbackName: '你的向导',
  open: [
    (q: string) => `你说“${q}”——我听到了，也一直在琢磨这句话。`,
    (q: string) => `“${q}”——这可不是能随便带过的话。`,
    (q: string) => `你提到“${q}”，这个念头值得追下去。`,
  ],
  openSilent: '你还没说什么，我在听。',
  name: (n: string) => `我是${n}，这样的时刻我向来不会轻视。`,
  middle: [
    '这里面的门道比表面上多，我想弄个明白。',
    '我们一步一步来，一起把它弄清楚。',
    '好故事往往就在这样的时刻转折。',
    '我心里有个猜测，但想先听听你的看法。',
  ],
  close: ['接下来你想怎么做？', '我们下一步去哪儿？', '说吧——你的下一步是什么？', '你怎么看？'],
  separator: '',
};

/** FNV-1a: a cheap, stable hash so the same conversation always gets the same reply. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function personaName(systemInstruction: string | null): string | undefined {
  if (!systemInstruction) return undefined;
  const match = NAME_EN.exec(systemInstruction) ?? NAME_ZH.exec(systemInstruction);
  return match?.[1]?.trim() || undefined;
}

/** A short, single-line excerpt of what the user said, safe to wrap in quotes. */
export function excerpt(message: string, chinese: boolean): string {
  const flat = message.replace(/["“”]/g, '').replace(/\s+/g, ' ').trim();
  if (chinese) {
    const chars = Array.from(flat);
    return chars.length > 16 ? `${chars.slice(0, 16).join('')}…` : flat;
  }
  const words = flat.split(' ').filter(Boolean);
  let short = words.slice(0, 8).join(' ');
  if (Array.from(short).length > 60) short = Array.from(short).slice(0, 60).join('').trimEnd();
  return short.length < flat.length ? `${short}…` : short;
}

export function composeReply(systemInstruction: string | null, contents: DemoTurn[]): DemoReply {
  const lastUser = [...contents].reverse().find((turn) => turn.role !== 'model')?.text ?? '';
  const chinese = HAN.test(lastUser);
  const voice = chinese ? ZH : EN;
  const name = personaName(systemInstruction) ?? voice.fallbackName;
  const h = hash(`${name}\u0000${lastUser}\u0000${contents.length}`);
  const quote = excerpt(lastUser, chinese);

  const sentences = [
    quote ? voice.open[h % voice.open.length](quote) : voice.openSilent,
    voice.name(name),
    // Three or four sentences, chosen by the hash so replies vary between turns.
    ...((h >>> 8) % 2 === 0 ? [voice.middle[(h >>> 9) % voice.middle.length]] : []),
    voice.close[(h >>> 12) % voice.close.length],
  ];
  return { text: sentences.join(voice.separator), chinese };
}

/** Splits a reply into stream chunks of a few words (or characters, for Chinese) that join back exactly. */
export function chunkReply(text: string, chinese: boolean): string[] {
  if (chinese) {
    const chars = Array.from(text);
    const chunks: string[] = [];
    for (let i = 0; i < chars.length; i += 6) chunks.push(chars.slice(i, i + 6).join(''));
    return chunks;
  }
  return text.match(/(?:\S+\s*){1,4}/g) ?? [text];
}

/** Gemini-like token estimate: about four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
