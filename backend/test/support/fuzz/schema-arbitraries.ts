import fc from 'fast-check';
import { resolveRef, type OpenApiDocument } from '../../../src/contract/contract-document.js';

export type Schema = Record<string, unknown>;

/** Length as JSON Schema counts it: in code points, not UTF-16 units. */
export function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

// A generator is kept only when at least this share of what it draws already fits the schema:
// filtering a generator that rarely fits would make fast-check spin.
const MIN_ACCEPTANCE = 0.15;

/**
 * fast-check arbitraries drawing values that satisfy a JSON Schema of the contract (the subset
 * the contract uses: `$ref`, type, enum, const, pattern, formats, lengths, bounds, required and
 * additional properties, oneOf/anyOf/allOf, arrays), edge values included.
 */
export class SchemaArbitraries {
  private readonly cache = new Map<Schema, fc.Arbitrary<unknown>>();

  constructor(private readonly document: OpenApiDocument) {}

  /** The schema with its `$ref` followed; keywords written beside the `$ref` win. */
  resolve(schema: Schema): Schema {
    if (typeof schema.$ref !== 'string') return schema;
    const { $ref, ...siblings } = schema;
    return { ...this.resolve(resolveRef<Schema>(this.document, { $ref })), ...siblings };
  }

  valid(raw: Schema): fc.Arbitrary<unknown> {
    const cached = this.cache.get(raw);
    if (cached) return cached;
    const built = this.build(this.resolve(raw));
    this.cache.set(raw, built);
    return built;
  }

  /** The JSON types a schema admits (all of them when it says nothing). */
  typesOf(raw: Schema): string[] {
    const schema = this.resolve(raw);
    if ('const' in schema) return [jsonType(schema.const)];
    if (Array.isArray(schema.enum)) return [...new Set(schema.enum.map(jsonType))];
    const branches = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
    if (branches) return [...new Set(branches.flatMap((b) => this.typesOf(b)))];
    if (typeof schema.type === 'string') return [schema.type === 'integer' ? 'number' : schema.type];
    if (Array.isArray(schema.type)) return schema.type.map((t: string) => (t === 'integer' ? 'number' : t));
    if (schema.properties) return ['object'];
    return ['string', 'number', 'boolean', 'null', 'object', 'array'];
  }

  private build(schema: Schema): fc.Arbitrary<unknown> {
    if ('const' in schema) return fc.constant(schema.const);
    if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
    const branches = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
    if (branches) return fc.oneof(...branches.map((branch) => this.valid(branch)));
    if (Array.isArray(schema.allOf)) {
      const { allOf, ...rest } = schema;
      return this.build(Object.assign({}, ...(allOf as Schema[]).map((part) => this.resolve(part)), rest) as Schema);
    }
    const types: string[] =
      typeof schema.type === 'string'
        ? [schema.type]
        : Array.isArray(schema.type)
          ? (schema.type as string[])
          : schema.properties
            ? ['object']
            : [];
    if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
    if (types.length > 1) return fc.oneof(...types.map((type) => this.build({ ...schema, type })));
    switch (types[0]) {
      case 'string':
        return this.string(schema);
      case 'integer':
        return this.integer(schema);
      case 'number':
        return fc.double({
          min: numberOr(schema.minimum, -1e9),
          max: numberOr(schema.maximum, 1e9),
          noNaN: true,
          noDefaultInfinity: true,
        });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(this.valid((schema.items as Schema | undefined) ?? {}), {
          minLength: numberOr(schema.minItems, 0),
          maxLength: Math.max(numberOr(schema.minItems, 0), Math.min(numberOr(schema.maxItems, 3), 3)),
        });
      case 'object':
        return this.object(schema);
      default:
        throw new Error(`no arbitrary for JSON Schema type ${String(types[0])}`);
    }
  }

  private integer(schema: Schema): fc.Arbitrary<number> {
    const min = numberOr(schema.minimum, -(2 ** 31));
    const max = numberOr(schema.maximum, 2 ** 31 - 1);
    return fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min, max }) },
      { weight: 1, arbitrary: fc.constantFrom(min, max) },
    );
  }

  private object(schema: Schema): fc.Arbitrary<unknown> {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    const required = (schema.required ?? []) as string[];
    const known = fc.record(
      Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, this.valid(property)])),
      { requiredKeys: required.filter((name) => name in properties) },
    );
    const extra = schema.additionalProperties;
    if (extra === false || extra === undefined) return known;
    const values = extra === true ? fc.jsonValue({ maxDepth: 1 }) : this.valid(extra as Schema);
    return fc
      .tuple(known, fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 3 }))
      .map(([own, more]) => ({ ...more, ...own }));
  }

  private string(schema: Schema): fc.Arbitrary<string> {
    const min = numberOr(schema.minLength, 0);
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : undefined;
    const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : undefined;
    const fits = (text: string) => {
      const length = codePoints(text);
      return length >= min && (max === undefined || length <= max) && (!pattern || pattern.test(text));
    };
    const lengths = { minLength: min, ...(max === undefined ? {} : { maxLength: max }) };
    const candidates: Array<fc.Arbitrary<string>> = [];
    switch (schema.format) {
      case 'uuid':
        candidates.push(fc.uuid());
        break;
      case 'email':
        candidates.push(fc.emailAddress(), fc.constantFrom('mira.fan@example.com', 'A.B+tag@Example.ORG'));
        break;
      case 'date-time':
        candidates.push(
          fc
            .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
            .map((d) => d.toISOString()),
        );
        break;
      case 'uri-reference':
        candidates.push(fc.webPath());
        break;
      default:
        if (pattern) candidates.push(fc.stringMatching(pattern));
        candidates.push(
          fc.string({ unit: 'grapheme', ...lengths }),
          fc.string({ unit: 'binary', ...lengths }),
          fc.string({ unit: 'grapheme-ascii', ...lengths }),
        );
    }
    const kept = candidates.filter((candidate) => acceptance(candidate, fits) >= MIN_ACCEPTANCE);
    if (kept.length === 0) throw new Error(`no generator fits the string schema ${JSON.stringify(schema)}`);
    const drawn = fc.oneof(...kept.map((candidate) => candidate.filter(fits)));
    const edges = stringEdges(min, max).filter(fits);
    return edges.length === 0
      ? drawn
      : fc.oneof({ weight: 6, arbitrary: drawn }, { weight: 1, arbitrary: fc.constantFrom(...edges) });
  }
}

// Strings at the declared length limits, in one-unit and two-unit (astral) code points, so a
// server that counts UTF-16 units instead of code points shows itself.
function stringEdges(min: number, max: number | undefined): string[] {
  const lengths = [min, Math.max(min, 1), ...(max === undefined ? [] : [max])];
  return [...new Set(lengths)].flatMap((n) => ['a'.repeat(n), 'é'.repeat(n), '😀'.repeat(n), '字'.repeat(n)]);
}

function acceptance(candidate: fc.Arbitrary<string>, fits: (text: string) => boolean): number {
  const sample = fc.sample(candidate, { seed: 20261128, numRuns: 100 });
  return sample.filter(fits).length / sample.length;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
