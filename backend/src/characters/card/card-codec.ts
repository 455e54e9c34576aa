import { z } from 'zod';
import type { ValidationIssue } from '@parley/api-types';
import { AppError } from '../../errors/app-error.js';
import { inspectStrings } from '../../http/json-body.middleware.js';
import type { CardData, CardSpec } from './card.types.js';
import { encodeChunks, readChunks, readTexts, textChunk, type PngChunk } from './png-chunks.js';

// The limits of the contract's CharacterCard (checked again here for cards read out of a PNG).
const text = (max: number) => z.string().max(max);
const list = (items: number, max: number) => z.array(z.string().max(max)).max(items);
const extensions = z.record(z.string(), z.unknown());

const bookEntry = z.object({
  keys: list(20, 50),
  content: text(4000),
  extensions: extensions.default({}),
  enabled: z.boolean().default(true),
  insertion_order: z.number().default(100),
  case_sensitive: z.boolean().optional(),
  name: text(120).optional(),
  priority: z.number().optional(),
  id: z.union([z.number(), z.string().max(100)]).optional(),
  comment: text(4000).optional(),
  selective: z.boolean().optional(),
  secondary_keys: list(20, 50).optional(),
  constant: z.boolean().optional(),
  position: z.enum(['before_char', 'after_char']).optional(),
  use_regex: z.boolean().optional(),
});

const book = z.object({
  name: text(200).optional(),
  description: text(4000).optional(),
  scan_depth: z.number().int().min(1).max(50).optional(),
  token_budget: z.number().int().min(1).max(8000).optional(),
  recursive_scanning: z.boolean().optional(),
  extensions: extensions.default({}),
  entries: z.array(bookEntry).max(100),
});

const v2Data = {
  name: z
    .string()
    .max(80)
    .refine((s) => s.trim().length > 0, 'must not be empty'),
  description: text(8000).default(''),
  personality: text(4000).default(''),
  scenario: text(4000).default(''),
  first_mes: text(4000).default(''),
  mes_example: text(6000).default(''),
  creator_notes: text(4000).default(''),
  system_prompt: text(6000).default(''),
  post_history_instructions: text(4000).default(''),
  alternate_greetings: list(20, 4000).default([]),
  character_book: book.optional(),
  tags: list(30, 40).default([]),
  creator: text(200).default(''),
  character_version: text(100).default(''),
  extensions: extensions.default({}),
};

const v3Data = {
  ...v2Data,
  group_only_greetings: list(20, 4000).default([]),
  nickname: text(80).optional(),
  creator_notes_multilingual: z.record(z.string(), text(4000)).optional(),
  source: list(20, 2000).optional(),
  creation_date: z.number().optional(),
  modification_date: z.number().optional(),
  assets: z
    .array(z.object({ type: text(100), uri: text(4000), name: text(200), ext: text(20) }))
    .max(50)
    .optional(),
};

const schemas = { chara_card_v2: z.object(v2Data), chara_card_v3: z.object(v3Data) } as const;
const V2_ONLY_KEYS = new Set(Object.keys(v2Data));
const ENTRY_KEYS = new Set(Object.keys(bookEntry.shape));
const BOOK_KEYS = new Set(Object.keys(book.shape));

// The texts sent to the model, together: at most this many characters.
export const MAX_PROMPT_CHARS = 32_000;

export interface ParsedCard {
  spec: CardSpec;
  data: CardData;
  /** JSON Pointers of fields the spec does not define (not kept). */
  droppedFields: string[];
}

/** Reads a V2 or V3 card: known fields checked against their limits, unknown ones listed. */
export function parseCard(input: unknown): ParsedCard {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new AppError('card_unreadable', { detail: 'a card is a JSON object' });
  }
  const card = input as Record<string, unknown>;
  const spec = card.spec;
  if (spec !== 'chara_card_v2' && spec !== 'chara_card_v3') {
    throw new AppError('card_spec_unsupported', {
      detail: `spec ${JSON.stringify(spec ?? null).slice(0, 40)} is not chara_card_v2 or chara_card_v3`,
    });
  }
  const dropped = Object.keys(card)
    .filter((key) => !['spec', 'spec_version', 'data'].includes(key))
    .map((key) => `/${escape(key)}`);
  const raw = card.data;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid([{ location: 'body', pointer: '/data', message: 'must be an object', keyword: 'type' }]);
  }
  const result = schemas[spec].safeParse(raw);
  if (!result.success) {
    throw invalid(
      result.error.issues.slice(0, 20).map((issue) => ({
        location: 'body' as const,
        pointer: `/data${issue.path.map((p) => `/${escape(String(p))}`).join('')}`,
        message: issue.message,
        keyword: issue.code,
      })),
    );
  }
  const known = spec === 'chara_card_v2' ? V2_ONLY_KEYS : new Set(Object.keys(v3Data));
  const data = raw as Record<string, unknown>;
  dropped.push(
    ...Object.keys(data)
      .filter((k) => !known.has(k))
      .map((k) => `/data/${escape(k)}`),
  );
  const rawBook = data.character_book as Record<string, unknown> | undefined;
  if (rawBook && typeof rawBook === 'object') {
    dropped.push(
      ...Object.keys(rawBook)
        .filter((k) => !BOOK_KEYS.has(k))
        .map((k) => `/data/character_book/${escape(k)}`),
    );
    const entries = Array.isArray(rawBook.entries) ? (rawBook.entries as Record<string, unknown>[]) : [];
    entries.forEach((entry, i) =>
      dropped.push(
        ...Object.keys(entry)
          .filter((k) => !ENTRY_KEYS.has(k))
          .map((k) => `/data/character_book/entries/${i}/${escape(k)}`),
      ),
    );
  }
  const parsed = result.data as Partial<CardData>;
  const full: CardData = { group_only_greetings: [], ...parsed } as CardData;
  assertPromptSize(full);
  return { spec, data: full, droppedFields: dropped };
}

export function assertPromptSize(data: CardData): void {
  const total = [
    data.description,
    data.personality,
    data.scenario,
    data.mes_example,
    data.system_prompt,
    data.post_history_instructions,
  ].reduce((sum, s) => sum + s.length, 0);
  if (total > MAX_PROMPT_CHARS) {
    throw invalid([
      {
        location: 'body',
        pointer: '/description',
        message: `the prompt texts together must be at most ${MAX_PROMPT_CHARS} characters (they are ${total})`,
        keyword: 'maxLength',
      },
    ]);
  }
}

/** The card as V3 JSON (everything kept). */
export function toV3Card(data: CardData): Record<string, unknown> {
  return { spec: 'chara_card_v3', spec_version: '3.0', data };
}

/** The card as V2 JSON: the V3-only fields left out, as V2 readers expect. */
export function toV2Card(data: CardData): Record<string, unknown> {
  const v2 = Object.fromEntries(Object.entries(data).filter(([key]) => V2_ONLY_KEYS.has(key)));
  return { spec: 'chara_card_v2', spec_version: '2.0', data: v2 };
}

/** Reads the card out of a PNG: `ccv3` first, then `chara`, base64 of UTF-8 JSON. */
export function readPngCard(png: Buffer): unknown {
  const texts = readTexts(readChunks(png));
  const encoded = texts.get('ccv3') ?? texts.get('chara');
  if (encoded === undefined) throw new AppError('card_unreadable', { detail: 'the PNG has no ccv3 or chara chunk' });
  // Some writers wrap the base64 text in lines.
  const trimmed = encoded.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 === 1) {
    throw new AppError('card_unreadable', { detail: 'the card chunk is not base64' });
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(trimmed, 'base64')));
  } catch {
    throw new AppError('card_unreadable', { detail: 'the card chunk is not UTF-8 JSON' });
  }
  const issues = inspectStrings(json, 32);
  if (issues.length > 0) throw invalid(issues);
  return json;
}

/** A PNG of `image` carrying the card as `ccv3` (V3) and `chara` (V2), replacing any earlier card chunks. */
export function writePngCard(image: Buffer, data: CardData): Buffer {
  const chunks = readChunks(image).filter(
    (c) => !((c.type === 'tEXt' || c.type === 'iTXt' || c.type === 'zTXt') && isCardKeyword(c.data)),
  );
  const base64 = (card: Record<string, unknown>) => Buffer.from(JSON.stringify(card), 'utf8').toString('base64');
  const cardChunks: PngChunk[] = [
    textChunk('chara', base64(toV2Card(data))),
    textChunk('ccv3', base64(toV3Card(data))),
  ];
  const end = chunks.findIndex((c) => c.type === 'IEND');
  return encodeChunks([...chunks.slice(0, end), ...cardChunks, ...chunks.slice(end)]);
}

function isCardKeyword(data: Buffer): boolean {
  const keyword = data.toString('latin1', 0, Math.max(0, data.indexOf(0)));
  return keyword === 'chara' || keyword === 'ccv3';
}

function invalid(errors: ValidationIssue[]): AppError {
  return new AppError('validation_failed', { errors });
}

function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
