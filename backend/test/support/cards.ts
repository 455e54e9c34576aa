import { deflateSync } from 'node:zlib';
import CRC32 from 'crc-32';
import sharp from 'sharp';

// Cards and PNGs for the character tests, built here (not with the server's codec) so a codec
// bug cannot cancel itself out.

/** A V2 card using every field of the spec, with extensions Parley does not know. */
export function v2Card(name = 'Ada the Archivist'): {
  spec: string;
  spec_version: string;
  data: Record<string, unknown>;
} {
  return {
    spec: 'chara_card_v2',
    spec_version: '2.0',
    data: {
      name,
      description: '{{char}} keeps the archive of a drowned city.',
      personality: 'Meticulous, dry, kind.',
      scenario: '{{user}} arrives at the archive door at midnight.',
      first_mes: 'Welcome, {{user}}. I am {{char}}.',
      mes_example: '<START>\n{{user}}: Hello\n{{char}}: Quiet, please.',
      creator_notes: 'An archivist for quiet stories.',
      system_prompt: 'You are {{char}}. Write in the present tense.',
      post_history_instructions: 'Keep replies under 100 words.',
      alternate_greetings: ['Oh, {{user}} — back again?', 'The lamps flicker as {{user}} enters.'],
      character_book: {
        name: 'Archive lore',
        description: 'What the archive holds',
        scan_depth: 3,
        token_budget: 500,
        recursive_scanning: false,
        extensions: { tool: { deep: [1, { x: 'y' }] } },
        entries: [
          {
            keys: ['dragon'],
            content: 'The archive keeps a dragon skull in the vault.',
            extensions: { depth: 4, weight: 10 },
            enabled: true,
            insertion_order: 10,
            case_sensitive: false,
            name: 'Dragon skull',
            priority: 5,
            id: 1,
            comment: 'vault',
            selective: false,
            secondary_keys: [],
            constant: false,
            position: 'before_char',
          },
        ],
      },
      tags: ['archive', 'mystery'],
      creator: 'parley-tests',
      character_version: '1.2',
      extensions: { talkativeness: '0.5', fav: false, world: 'Drowned', depth_prompt: { prompt: 'x', depth: 4 } },
    },
  };
}

/** A V3 card: the V2 fields plus the V3 ones. */
export function v3Card(name = 'Bram the Lighthouse Keeper'): {
  spec: string;
  spec_version: string;
  data: Record<string, unknown>;
} {
  const v2 = v2Card(name);
  return {
    spec: 'chara_card_v3',
    spec_version: '3.0',
    data: {
      ...v2.data,
      character_book: {
        ...(v2.data.character_book as object),
        entries: [{ ...(v2.data.character_book as { entries: object[] }).entries[0], use_regex: false, id: 'e1' }],
      },
      group_only_greetings: ['Everyone, gather round.'],
      nickname: 'Bram',
      creator_notes_multilingual: { en: 'A keeper.', zh: '守塔人。' },
      source: ['https://example.com/bram'],
      creation_date: 1_700_000_000,
      modification_date: 1_700_000_500,
      assets: [{ type: 'icon', uri: 'ccdefault:', name: 'main', ext: 'png' }],
    },
  };
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeInt32BE(CRC32.buf(data, CRC32.bstr(type)), 0);
  return Buffer.concat([head, data, crc]);
}

export async function plainPng(width = 64, height = 64): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } })
    .png()
    .toBuffer();
}

/** `png` with extra chunks inserted before IEND. */
export function withChunks(png: Buffer, chunks: Array<{ type: string; data: Buffer }>): Buffer {
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), ...chunks.map((c) => chunk(c.type, c.data)), png.subarray(iend)]);
}

export function tEXt(keyword: string, text: string): { type: string; data: Buffer } {
  return {
    type: 'tEXt',
    data: Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]),
  };
}

export function compressedITXt(keyword: string, raw: Buffer): { type: string; data: Buffer } {
  return {
    type: 'iTXt',
    data: Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 1, 0, 0, 0]), deflateSync(raw)]),
  };
}

export function base64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

/** The tEXt chunks of a PNG, by keyword. */
export function textChunks(png: Buffer): Map<string, string> {
  const texts = new Map<string, string>();
  let at = 8;
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'tEXt') {
      const nul = data.indexOf(0);
      texts.set(data.toString('latin1', 0, nul), data.toString('latin1', nul + 1));
    }
    at += 12 + length;
  }
  return texts;
}

export function cardInPng(png: Buffer, keyword: 'chara' | 'ccv3'): { spec: string; data: Record<string, unknown> } {
  const text = textChunks(png).get(keyword);
  if (text === undefined) throw new Error(`no ${keyword} chunk`);
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as { spec: string; data: Record<string, unknown> };
}
