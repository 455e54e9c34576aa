import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Draw } from './draw.js';
import { codePoints, type Schema, type SchemaArbitraries } from './schema-arbitraries.js';

type Path = Array<string | number>;

export interface Mutant {
  value: unknown;
  /** What was changed and where (a JSON Pointer), for the report. */
  note: string;
}

/** Values of every JSON type, to put where the schema wants another. */
const ANY_TYPE: unknown[] = [0, -1, 1.5, 1e21, true, false, null, '', 'text', '0', 'null', [], ['x'], {}, { a: 1 }];

const NON_MATCHING = [
  '',
  ' ',
  ' \t\n ',
  'UPPER-Case',
  'with space',
  '-leading',
  'ends-',
  'ü',
  '../../etc/passwd',
  "' OR '1'='1",
  '<script>alert(1)</script>',
  '\u200b',
  '\ufeff',
  '%00',
  'a'.repeat(300),
];

const LONE_SURROGATES = ['\ud800', '\udfff', '\udc00\ud800', 'a\ud83d', '\ud83d'];

/**
 * One change to a valid JSON value that breaks (or probes) its schema: a wrong type, a
 * missing required or an extra property, a value out of range or over-long, a pattern or format
 * broken, a NUL or a lone surrogate in a string or a property name. JSON.stringify writes NULs
 * and lone surrogates as `\u0000` / `\ud800` escapes, exactly as a hostile client would.
 */
export function mutateValue(draw: Draw, arbs: SchemaArbitraries, schema: Schema, value: unknown): Mutant {
  const sites = collectSites(arbs, schema, value, []);
  const site = draw.pick(sites);
  const kinds = kindsFor(arbs, site.schema, site.value);
  const kind = draw.pick(kinds);
  const where = pointer(site.path);
  const replace = (next: unknown, note: string): Mutant => ({
    value: setAt(value, site.path, next),
    note: `${note} ${where}`,
  });
  const s = site.schema;
  switch (kind) {
    case 'wrong-type': {
      const allowed = arbs.typesOf(s);
      const candidates = ANY_TYPE.filter((v) => !allowed.includes(jsonType(v)));
      return replace(draw.pick(candidates.length > 0 ? candidates : ANY_TYPE), 'wrong type at');
    }
    case 'too-long': {
      const max = s.maxLength as number;
      const unit = draw.pick(['a', '😀', '字', ' x']);
      const over = draw.pick([1, 1, 2, 50, max]);
      const text = unit.repeat(max + over);
      return replace([...text].slice(0, max + over).join(''), `over maxLength (${max + over} code points) at`);
    }
    case 'too-short': {
      const min = s.minLength as number;
      return replace('a'.repeat(min - 1), `under minLength (${min - 1}) at`);
    }
    case 'pattern': {
      const pattern = new RegExp(s.pattern as string, 'u');
      const candidates = NON_MATCHING.filter((text) => !pattern.test(text));
      return replace(draw.pick(candidates.length > 0 ? candidates : ['']), 'pattern broken at');
    }
    case 'nul':
      return replace(insert(draw, String(site.value), '\u0000'), 'NUL (\\u0000) in');
    case 'lone-surrogate':
      return replace(insert(draw, String(site.value), draw.pick(LONE_SURROGATES)), 'lone surrogate in');
    case 'format':
      return replace(draw.pick(badFormat(String(s.format), draw.value(fc.uuid()))), `bad ${String(s.format)} at`);
    case 'enum': {
      const allowed = (s.enum as unknown[]) ?? [s.const];
      const candidates = ['EN', 'fr', 'en-US', '', 'zh-Hans', 'null', 'Bearer'].filter((v) => !allowed.includes(v));
      return replace(draw.pick(candidates), 'value outside the enum at');
    }
    case 'below-minimum':
      return replace((s.minimum as number) - draw.pick([1, 1, 1000, 2 ** 31]), 'below minimum at');
    case 'above-maximum':
      return replace((s.maximum as number) + draw.pick([1, 1, 1000, 2 ** 53]), 'above maximum at');
    case 'fraction':
      return replace(draw.pick([0.5, 1.5, 2.000001, -0.1]), 'fraction where an integer is declared at');
    case 'missing-required': {
      const present = ((s.required as string[] | undefined) ?? []).filter((name) => name in (site.value as object));
      const name = draw.pick(present);
      const copy = { ...(site.value as Record<string, unknown>) };
      delete copy[name];
      return replace(copy, `required "${name}" missing at`);
    }
    case 'extra-property': {
      const name = draw.pick([
        'extra',
        '__proto__',
        'constructor',
        'toString',
        '',
        'Content',
        'content ',
        'a\u0000b',
        '\ud800',
        draw.value(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 })),
      ]);
      const extra = draw.pick(ANY_TYPE);
      return replace(
        withProperty(site.value as Record<string, unknown>, name, extra),
        `extra property ${JSON.stringify(name)} at`,
      );
    }
    default:
      throw new Error(`unknown mutation ${kind}`);
  }
}

interface Site {
  path: Path;
  schema: Schema;
  value: unknown;
}

function collectSites(arbs: SchemaArbitraries, raw: Schema, value: unknown, path: Path): Site[] {
  const schema = arbs.resolve(raw);
  const sites: Site[] = [{ path, schema, value }];
  if (isObject(value) && isObject(schema.properties)) {
    for (const [name, child] of Object.entries(value)) {
      const property = (schema.properties as Record<string, Schema>)[name];
      if (property) sites.push(...collectSites(arbs, property, child, [...path, name]));
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((item, index) => sites.push(...collectSites(arbs, schema.items as Schema, item, [...path, index])));
  }
  return sites;
}

function kindsFor(arbs: SchemaArbitraries, schema: Schema, value: unknown): string[] {
  const kinds = ['wrong-type'];
  if (typeof value === 'string') {
    if (typeof schema.maxLength === 'number') kinds.push('too-long', 'too-long');
    if (typeof schema.minLength === 'number' && schema.minLength > 0) kinds.push('too-short');
    if (typeof schema.pattern === 'string') kinds.push('pattern');
    if (typeof schema.format === 'string') kinds.push('format');
    if (Array.isArray(schema.enum) || 'const' in schema) kinds.push('enum');
    kinds.push('nul', 'lone-surrogate');
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number') kinds.push('below-minimum');
    if (typeof schema.maximum === 'number') kinds.push('above-maximum');
    if (arbs.resolve(schema).type === 'integer') kinds.push('fraction');
  }
  if (isObject(value)) {
    if (((schema.required as string[] | undefined) ?? []).some((name) => name in value)) {
      kinds.push('missing-required', 'missing-required');
    }
    kinds.push('extra-property', 'extra-property');
  }
  return kinds;
}

function badFormat(format: string, uuid: string): string[] {
  switch (format) {
    case 'uuid':
      return [
        'not-a-uuid',
        uuid.replace(/-/g, ''),
        `${uuid}x`,
        `{${uuid}}`,
        uuid.slice(0, 35),
        '00000000-0000-0000-0000',
      ];
    case 'email':
      return ['no-at-sign', 'a@', '@example.com', 'a b@example.com', 'a@b@example.com', 'a@example..com'];
    case 'date-time':
      return ['yesterday', '2025-13-01T00:00:00Z', '2025-05-01'];
    default:
      return ['', ' ', '::'];
  }
}

function insert(draw: Draw, text: string, piece: string): string {
  const chars = [...text];
  const at = draw.int(0, chars.length);
  return [...chars.slice(0, at), piece, ...chars.slice(at)].join('');
}

function setAt(root: unknown, path: Path, next: unknown): unknown {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  if (Array.isArray(root)) return root.map((item, index) => (index === head ? setAt(item, rest, next) : item));
  const copy: Record<string, unknown> = {};
  for (const [name, child] of Object.entries(root as Record<string, unknown>)) {
    defineProperty(copy, name, name === head ? setAt(child, rest, next) : child);
  }
  return copy;
}

// Own data properties, so a key such as `__proto__` is serialized rather than swallowed.
function withProperty(object: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(object)) defineProperty(copy, key, child);
  defineProperty(copy, name, value);
  return copy;
}

function defineProperty(object: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
}

function pointer(path: Path): string {
  return path.length === 0
    ? '(the whole body)'
    : `/${path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

// ---- Bodies at the byte level -------------------------------------------------------------

export type BodyExpectation =
  /** What the contract's validators say of the decoded value decides. */
  { kind: 'as-parsed' } | { kind: 'reject'; codes: string[] } | { kind: 'any' };

export interface RawBody {
  body?: Buffer;
  /** `undefined`: the usual `application/json`; `null`: no Content-Type header at all. */
  contentType?: string | null;
  contentEncoding?: string;
  chunked?: boolean;
  note: string;
  /** For an operation that reads bodies; one that takes none ignores all of this. */
  expect: BodyExpectation;
}

const ACCEPTED_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset=UTF-8',
  'Application/JSON',
  'application/json; charset="utf-8"',
];

const REFUSED_TYPES = [
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/json; charset=latin1',
  'application/json; charset=iso-8859-1',
  'application/json; charset=utf-16',
  'application/json; charset=utf8',
  'application/merge-patch+json',
  'application/problem+json',
  'application/xml',
  '*/*',
  'application/*',
  'application/json, text/plain',
  'json',
  '',
  ';;;',
  'application/json; charset=',
];

const INVALID_UTF8 = [
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

/** How a valid JSON value can be written: the decoded value is the same in every form. */
export function serialize(draw: Draw, value: unknown): { text: string; note: string } {
  const form = draw.weighted([
    [6, 'plain'],
    [1, 'pretty'],
    [1, 'escaped'],
  ] as const);
  if (form === 'pretty') return { text: `\n ${JSON.stringify(value, null, '\t')} \r\n`, note: 'pretty-printed' };
  if (form === 'escaped')
    return { text: escapeAll(JSON.stringify(value)), note: 'every string character as a \\u escape' };
  return { text: JSON.stringify(value), note: 'plain' };
}

/**
 * The body of a request written wrongly (or oddly) at the byte level: malformed JSON, bytes
 * that are not UTF-8, other media types and charsets, a size just over (or exactly at) the
 * declared limit, deep nesting, no body at all, other top-level values, compression.
 */
export function rawBody(draw: Draw, value: unknown, limits: { maxBodyBytes: number; maxJsonDepth: number }): RawBody {
  const json = JSON.stringify(value);
  const kind = draw.weighted([
    [3, 'malformed'],
    [2, 'invalid-utf8'],
    [3, 'content-type'],
    [1, 'no-content-type'],
    [2, 'oversize'],
    [1, 'at-limit'],
    [2, 'deep'],
    [1, 'top-level'],
    [1, 'empty'],
    [1, 'duplicate-key'],
    [1, 'bom'],
    [1, 'chunked'],
    [1, 'encoding'],
    [1, 'utf16'],
  ] as const);
  switch (kind) {
    case 'malformed': {
      const broken = draw.pick([
        () => json.slice(0, draw.int(1, Math.max(1, json.length - 1))),
        () => `${json}}`,
        () => `${json} trailing`,
        () => json.replace(/"/g, "'"),
        () => `{${json}`,
        () => json.replace(/"([^"]+)":/, '$1:'),
        () => json.replace(/}$/, ',}'),
        () => '   ',
        () => 'NaN',
        () => `/* comment */ ${json}`,
        () => json.replace(/:/, ':\u0000'),
        () => '{"a":1e999999999999}x',
      ])();
      return {
        body: Buffer.from(broken, 'utf8'),
        note: `malformed JSON ${preview(broken)}`,
        expect: { kind: 'reject', codes: ['malformed_json'] },
      };
    }
    case 'invalid-utf8': {
      const bad = Buffer.from(draw.pick(INVALID_UTF8));
      const text = Buffer.from(json, 'utf8');
      const quote = text.indexOf('":"');
      const at = quote === -1 ? draw.int(0, text.length) : quote + 3;
      return {
        body: Buffer.concat([text.subarray(0, at), bad, text.subarray(at)]),
        note: `invalid UTF-8 bytes ${bad.toString('hex')} at byte ${at}`,
        expect: { kind: 'reject', codes: ['malformed_json'] },
      };
    }
    case 'content-type': {
      if (draw.chance(0.3)) {
        const type = draw.pick(ACCEPTED_TYPES);
        return {
          body: Buffer.from(json),
          contentType: type,
          note: `Content-Type ${type}`,
          expect: { kind: 'as-parsed' },
        };
      }
      const type = draw.pick(REFUSED_TYPES);
      return {
        body: Buffer.from(json),
        contentType: type,
        note: `Content-Type ${JSON.stringify(type)}`,
        expect: { kind: 'reject', codes: ['unsupported_media_type'] },
      };
    }
    case 'no-content-type':
      return {
        body: Buffer.from(json),
        contentType: null,
        note: 'no Content-Type',
        expect: { kind: 'reject', codes: ['unsupported_media_type'] },
      };
    case 'oversize': {
      const over = draw.pick([1, 1, 2, 100, 1024]);
      return {
        body: pad(json, limits.maxBodyBytes + over),
        chunked: draw.chance(0.3),
        note: `${over} byte(s) over maxBodyBytes`,
        expect: { kind: 'reject', codes: ['payload_too_large'] },
      };
    }
    case 'at-limit':
      return {
        body: pad(json, limits.maxBodyBytes),
        note: 'exactly maxBodyBytes (whitespace-padded)',
        expect: { kind: 'as-parsed' },
      };
    case 'deep': {
      const depth = draw.pick([limits.maxJsonDepth - 1, limits.maxJsonDepth, limits.maxJsonDepth + 1, 100, 20000]);
      const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const splice = (value: string) =>
        json.startsWith('{"') ? json.replace(/:("(?:[^"\\]|\\.)*"|[^,}]+)/, `:${value}`) : value;
      const text = splice(nested);
      // Splicing into a first value that is itself an array of objects can cut the JSON (its tail
      // is left unbalanced): that body is malformed, whatever its depth. Checked on a shallow copy.
      let wellFormed = true;
      try {
        JSON.parse(splice('[]'));
      } catch {
        wellFormed = false;
      }
      return {
        body: Buffer.from(text),
        note: `arrays nested ${depth} deep`,
        expect: { kind: 'reject', codes: [wellFormed ? 'validation_failed' : 'malformed_json'] },
      };
    }
    case 'top-level': {
      const text = draw.pick(['[]', '"text"', '1', 'null', 'true', '[{}]', `[${json}]`]);
      return {
        body: Buffer.from(text),
        note: `top-level ${text.slice(0, 20)}`,
        expect: { kind: 'reject', codes: ['validation_failed'] },
      };
    }
    case 'empty':
      return {
        body: Buffer.alloc(0),
        note: 'Content-Length: 0',
        expect: { kind: 'reject', codes: ['validation_failed'] },
      };
    case 'duplicate-key': {
      const text = json.startsWith('{"') ? json.replace(/^\{("(?:[^"\\]|\\.)*"):/, '{$1:12345,$1:') : json;
      return { body: Buffer.from(text), note: 'a key given twice (the last one valid)', expect: { kind: 'any' } };
    }
    case 'bom':
      return {
        body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]),
        note: 'UTF-8 byte order mark',
        expect: { kind: 'any' },
      };
    case 'chunked':
      return {
        body: Buffer.from(json),
        chunked: true,
        note: 'Transfer-Encoding: chunked',
        expect: { kind: 'as-parsed' },
      };
    case 'encoding': {
      const encoding = draw.pick(['gzip', 'deflate', 'br', 'identity', 'x-fuzz', 'gzip, gzip', 'zstd']);
      const compressed = encoding === 'gzip' && draw.chance(0.5);
      return {
        body: compressed ? gzipSync(json) : Buffer.from(json),
        contentEncoding: encoding,
        note: `Content-Encoding ${encoding}${compressed ? ' (really gzipped)' : ' (not encoded)'}`,
        expect: { kind: 'any' },
      };
    }
    case 'utf16': {
      const withCharset = draw.chance(0.5);
      return {
        body: Buffer.from(json, 'utf16le'),
        contentType: withCharset ? 'application/json; charset=utf-16le' : 'application/json',
        note: `UTF-16LE bytes${withCharset ? ' declared as such' : ' sent as application/json'}`,
        expect: {
          kind: 'reject',
          codes: withCharset ? ['unsupported_media_type'] : ['malformed_json', 'validation_failed'],
        },
      };
    }
  }
}

function pad(json: string, bytes: number): Buffer {
  const body = Buffer.from(json, 'utf8');
  return Buffer.concat([body, Buffer.alloc(Math.max(0, bytes - body.length), 0x20)]);
}

function escapeAll(json: string): string {
  // Inside strings only: every UTF-16 unit of a string becomes \uXXXX.
  return json.replace(/"((?:[^"\\]|\\.)*)"/g, (_match, inner: string) => {
    const decoded = JSON.parse(`"${inner}"`) as string;
    let out = '';
    for (let i = 0; i < decoded.length; i++) out += `\\u${decoded.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return `"${out}"`;
  });
}

export function preview(text: string, max = 60): string {
  const shown = codePoints(text) > max ? `${[...text].slice(0, max).join('')}…` : text;
  return JSON.stringify(shown);
}
