import fc from 'fast-check';
import sharp from 'sharp';
import { AppError } from '../../errors/app-error.js';
import { ERROR_SPECS } from '../../errors/error-codes.js';
import { parseCard, readPngCard, writePngCard } from './card-codec.js';
import { encodeChunks, readChunks, textChunk } from './png-chunks.js';

// Whatever a client uploads as a card, the codec answers with a card or a client error it names;
// never another exception (a crash is a 500). The round-trip properties are in card-codec.spec.ts.
const CARD_ERRORS = new Set(['card_unreadable', 'card_spec_unsupported', 'image_unsupported', 'validation_failed']);

/** Runs `read`; a thrown AppError is returned (after checking it is a 4xx the card routes name), anything else rethrown. */
function outcome<T>(read: () => T): T | AppError {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(CARD_ERRORS).toContain(error.code);
    expect(ERROR_SPECS[error.code].status).toBe(400);
    return error;
  }
}

/** The whole path of an uploaded PNG: read the chunk, then check the card. */
const importPng = (png: Buffer) => {
  const json = readPngCard(png);
  return parseCard(json);
};

const base64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');

describe('card codec on garbage (properties)', () => {
  let image: Buffer;
  let card: Buffer;
  beforeAll(async () => {
    image = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#663399' } })
      .png()
      .toBuffer();
    card = writePngCard(image, parseCard({ spec: 'chara_card_v3', data: { name: 'Mira', tags: ['a'] } }).data);
  });

  it('answers any bytes with image_unsupported or card_unreadable', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const result = outcome(() => importPng(Buffer.from(bytes)));
        expect(result).toBeInstanceOf(AppError);
      }),
      { numRuns: 300 },
    );
  });

  it('answers any bytes after a PNG signature with card_unreadable, never past the end of the buffer', () => {
    const signature = image.subarray(0, 8);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const result = outcome(() => importPng(Buffer.concat([signature, Buffer.from(bytes)])));
        expect(result).toBeInstanceOf(AppError);
        expect((result as AppError).code).toBe('card_unreadable');
      }),
      { numRuns: 300 },
    );
  });

  it('reads a card PNG cut short or with any byte changed as the card, or refuses it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (at, flip, truncate) => {
          const where = at % card.length;
          const broken = truncate ? card.subarray(0, where) : Buffer.from(card);
          if (!truncate) broken[where] ^= flip;
          const result = outcome(() => importPng(broken));
          // A change the CRC cannot see (past IEND, say) leaves the card as it was.
          if (!(result instanceof AppError)) expect(result.data.name).toBe('Mira');
        },
      ),
      { numRuns: 400 },
    );
  });

  it('answers any text in a card chunk (chara or ccv3, tEXt) with a card or a client error', () => {
    const chunkText = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ maxLength: 80, unit: 'binary' }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
      fc.string({ maxLength: 60, unit: 'binary' }).map((s) => Buffer.from(s, 'utf8').toString('base64')),
      fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('base64')),
      fc.jsonValue({ maxDepth: 3 }).map(base64),
    );
    fc.assert(
      fc.property(fc.constantFrom('chara', 'ccv3'), chunkText, (keyword, text) => {
        const chunks = readChunks(image);
        const png = encodeChunks([...chunks.slice(0, -1), textChunk(keyword, text), ...chunks.slice(-1)]);
        outcome(() => importPng(png));
      }),
      { numRuns: 300 },
    );
  });

  it('reads a card chunk as base64 only: whitespace anywhere is ignored, any other character refused', () => {
    const encoded = base64({ spec: 'chara_card_v2', data: { name: 'Mira', description: 'x'.repeat(40) } });
    const withChunk = (text: string) => {
      const chunks = readChunks(image);
      return encodeChunks([...chunks.slice(0, -1), textChunk('chara', text), ...chunks.slice(-1)]);
    };
    const notBase64 = fc
      .integer({ min: 0x21, max: 0xff })
      .map((c) => String.fromCharCode(c))
      // (JavaScript’s \s, which the reader drops, includes the no-break space U+00A0.)
      .filter((c) => !/[A-Za-z0-9+/=\s]/.test(c));
    fc.assert(
      fc.property(fc.nat(encoded.length), fc.constantFrom(' ', '\n', '\r\n', '\t'), notBase64, (at, space, stray) => {
        const spaced = outcome(() => importPng(withChunk(`${encoded.slice(0, at)}${space}${encoded.slice(at)}`)));
        expect(spaced).not.toBeInstanceOf(AppError);
        const strayed = outcome(() => importPng(withChunk(`${encoded.slice(0, at)}${stray}${encoded.slice(at)}`)));
        expect(strayed).toBeInstanceOf(AppError);
        expect((strayed as AppError).code).toBe('card_unreadable');
      }),
      { numRuns: 200 },
    );
  });

  it('answers any JSON with a card or a client error naming the field', () => {
    const data = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.dictionary(
        fc.constantFrom('name', 'description', 'tags', 'alternate_greetings', 'character_book', 'extensions', 'x'),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      fc.record({
        name: fc.oneof(fc.string({ maxLength: 100 }), fc.jsonValue({ maxDepth: 1 })),
        character_book: fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.record({ entries: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }) }),
        ),
      }),
    );
    const json = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({
        spec: fc.oneof(fc.constantFrom('chara_card_v2', 'chara_card_v3'), fc.jsonValue({ maxDepth: 1 })),
        data,
      }),
    );
    fc.assert(
      fc.property(json, (input) => {
        const result = outcome(() => parseCard(input));
        if (result instanceof AppError) {
          if (result.code === 'validation_failed') {
            const errors = (result.details as { errors: Array<{ pointer: string }> }).errors;
            expect(errors.length).toBeGreaterThan(0);
            for (const e of errors) expect(e.pointer).toMatch(/^\/(data|description)/);
          }
        } else {
          expect(typeof result.data.name).toBe('string');
          expect(result.data.name.trim().length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
