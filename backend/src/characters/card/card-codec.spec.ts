import fc from 'fast-check';
import sharp from 'sharp';
import { AppError } from '../../errors/app-error.js';
import { parseCard, readPngCard, toV2Card, toV3Card, writePngCard } from './card-codec.js';
import type { CardData } from './card.types.js';

// Any code point but NUL (refused in text), at most `max` of them: within the codec's limits,
// which count UTF-16 units (two per code point at most, and the limits allow for that).
const text = (max: number) => fc.string({ maxLength: max, unit: 'binary' }).filter((s) => !s.includes('\u0000'));
const jsonValue = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('\\u0000'));
const extensions = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), jsonValue, { maxKeys: 4 });

const entry = fc.record(
  {
    keys: fc.array(text(20), { maxLength: 3 }),
    content: text(200),
    extensions,
    enabled: fc.boolean(),
    insertion_order: fc.integer({ min: -100, max: 100 }),
    case_sensitive: fc.boolean(),
    name: text(30),
    priority: fc.integer({ min: 0, max: 10 }),
    id: fc.oneof(fc.integer({ min: 0, max: 1000 }), text(10)),
    comment: text(30),
    selective: fc.boolean(),
    secondary_keys: fc.array(text(20), { maxLength: 3 }),
    constant: fc.boolean(),
    position: fc.constantFrom('before_char' as const, 'after_char' as const),
  },
  { requiredKeys: ['keys', 'content', 'extensions', 'enabled', 'insertion_order'] },
);

const v2Data = fc.record(
  {
    name: text(40).filter((s) => s.trim().length > 0),
    description: text(300),
    personality: text(100),
    scenario: text(100),
    first_mes: text(200),
    mes_example: text(200),
    creator_notes: text(100),
    system_prompt: text(100),
    post_history_instructions: text(100),
    alternate_greetings: fc.array(text(50), { maxLength: 3 }),
    character_book: fc.record(
      {
        name: text(20),
        description: text(50),
        scan_depth: fc.integer({ min: 1, max: 50 }),
        token_budget: fc.integer({ min: 1, max: 8000 }),
        recursive_scanning: fc.boolean(),
        extensions,
        entries: fc.array(entry, { maxLength: 3 }),
      },
      { requiredKeys: ['extensions', 'entries'] },
    ),
    tags: fc.array(
      text(20).filter((s) => s.length > 0),
      { maxLength: 4 },
    ),
    creator: text(20),
    character_version: text(10),
    extensions,
  },
  {
    requiredKeys: [
      'name',
      'description',
      'personality',
      'scenario',
      'first_mes',
      'mes_example',
      'creator_notes',
      'system_prompt',
      'post_history_instructions',
      'alternate_greetings',
      'tags',
      'creator',
      'character_version',
      'extensions',
    ],
  },
);

const v3Data = fc
  .tuple(
    v2Data,
    fc.record(
      {
        group_only_greetings: fc.array(text(50), { maxLength: 2 }),
        nickname: text(20),
        creator_notes_multilingual: fc.dictionary(fc.constantFrom('en', 'zh', 'ja'), text(30)),
        source: fc.array(text(30), { maxLength: 2 }),
        creation_date: fc.integer({ min: 0, max: 2_000_000_000 }),
        modification_date: fc.integer({ min: 0, max: 2_000_000_000 }),
        assets: fc.array(fc.record({ type: text(10), uri: text(30), name: text(10), ext: text(5) }), { maxLength: 2 }),
      },
      { requiredKeys: ['group_only_greetings'] },
    ),
  )
  .map(([v2, v3]) => ({ ...v2, ...v3 }));

// A PNG with one more tEXt chunk, written with the codec's chunk writer.
async function pngWith(image: Buffer) {
  const { encodeChunks, readChunks, textChunk } = await import('./png-chunks.js');
  return {
    withText: (keyword: string, text: string) => {
      const chunks = readChunks(image);
      return encodeChunks([...chunks.slice(0, -1), textChunk(keyword, text), chunks.at(-1)!]);
    },
  };
}

function failure(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('card codec', () => {
  let image: Buffer;
  beforeAll(async () => {
    image = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
  });

  it('round-trips every field of a V3 card through JSON and PNG', () => {
    fc.assert(
      fc.property(v3Data, (data) => {
        // As it travels, in JSON (which has no -0, for one).
        const card = JSON.parse(JSON.stringify({ spec: 'chara_card_v3', spec_version: '3.0', data })) as object;
        const parsed = parseCard(card);
        expect(parsed.droppedFields).toEqual([]);
        expect(toV3Card(parsed.data)).toEqual(card);
        const fromPng = parseCard(readPngCard(writePngCard(image, parsed.data)));
        expect(toV3Card(fromPng.data)).toEqual(card);
      }),
      { numRuns: 60 },
    );
  });

  it('round-trips every field of a V2 card through JSON and PNG', () => {
    fc.assert(
      fc.property(v2Data, (data) => {
        const card = JSON.parse(JSON.stringify({ spec: 'chara_card_v2', spec_version: '2.0', data })) as object;
        const parsed = parseCard(card);
        expect(toV2Card(parsed.data)).toEqual(card);
        const png = writePngCard(image, parsed.data);
        expect(toV2Card(parseCard(readPngCard(png)).data)).toEqual(card);
      }),
      { numRuns: 60 },
    );
  });

  it('reports fields outside the spec and keeps extensions', () => {
    const parsed = parseCard({
      spec: 'chara_card_v2',
      spec_version: '2.0',
      name: 'v1 copy',
      data: {
        name: 'A',
        extra: true,
        extensions: { unknown: { deep: [1] } },
        character_book: { entries: [{ keys: ['k'], content: 'c', odd: 1 }], weird: 2 },
      },
    });
    expect(parsed.droppedFields.sort()).toEqual([
      '/data/character_book/entries/0/odd',
      '/data/character_book/weird',
      '/data/extra',
      '/name',
    ]);
    expect(parsed.data.extensions).toEqual({ unknown: { deep: [1] } });
    expect((parsed.data as CardData & { extra?: unknown }).extra).toBeUndefined();
  });

  it('refuses a card of another spec, and a PNG without a card', async () => {
    expect(failure(() => parseCard({ spec: 'chara_card_v1', data: { name: 'x' } })).code).toBe('card_spec_unsupported');
    expect(failure(() => readPngCard(image)).code).toBe('card_unreadable');
    expect(failure(() => readPngCard(Buffer.from('GIF89a'))).code).toBe('image_unsupported');
  });

  it('reads base64 written in lines, and refuses text that is not base64', async () => {
    const { withText } = await pngWith(image);
    const base64 = Buffer.from(JSON.stringify({ spec: 'chara_card_v2', data: { name: 'Wrapped' } })).toString('base64');
    const wrapped = base64.replace(/(.{20})/g, '$1\n');
    expect(parseCard(readPngCard(withText('chara', wrapped))).data.name).toBe('Wrapped');
    expect(failure(() => readPngCard(withText('chara', '***'))).code).toBe('card_unreadable');
  });

  it('refuses a PNG whose chunk CRC is wrong', () => {
    const png = writePngCard(image, parseCard({ spec: 'chara_card_v2', data: { name: 'A' } }).data);
    const broken = Buffer.from(png);
    broken[broken.length - 20] ^= 0xff;
    expect(failure(() => readPngCard(broken)).code).toBe('card_unreadable');
  });
});
