import { loadContractDocument, resolveRef, type OpenApiDocument } from './contract-document.js';

const document = {
  openapi: '3.1.0',
  paths: {},
  components: {
    schemas: {
      Chat: { type: 'object' },
      Alias: { $ref: '#/components/schemas/Chat' },
      Loop: { $ref: '#/components/schemas/Loop' },
    },
    'a/b': { 'c~d': { found: true } },
  },
} as unknown as OpenApiDocument;

describe(resolveRef.name, () => {
  it('returns a value that is not a reference as it is', () => {
    const value = { type: 'string' };
    expect(resolveRef(document, value)).toBe(value);
    expect(resolveRef(document, { $ref: 42 })).toEqual({ $ref: 42 });
    expect(resolveRef(document, null)).toBeNull();
    expect(resolveRef(document, undefined)).toBeUndefined();
  });

  it('follows a local reference, and a reference to a reference', () => {
    expect(resolveRef(document, { $ref: '#/components/schemas/Chat' })).toBe(document.components.schemas.Chat);
    expect(resolveRef(document, { $ref: '#/components/schemas/Alias' })).toBe(document.components.schemas.Chat);
  });

  it('unescapes ~1 and ~0 in each segment, in that order', () => {
    expect(resolveRef(document, { $ref: '#/components/a~1b/c~0d' })).toEqual({ found: true });
  });

  it('refuses a reference outside the document, one that names nothing, and stops a loop', () => {
    expect(() => resolveRef(document, { $ref: 'other.yaml#/x' })).toThrow(
      'only local references are supported: other.yaml#/x',
    );
    expect(() => resolveRef(document, { $ref: '#/components/schemas/Nope' })).toThrow(
      'unresolved reference #/components/schemas/Nope',
    );
    expect(() => resolveRef(document, { $ref: '#/nowhere/at/all' })).toThrow('unresolved reference #/nowhere/at/all');
    // A reference to itself is returned unresolved after 16 hops, not followed for ever.
    expect(resolveRef(document, { $ref: '#/components/schemas/Loop' })).toEqual({ $ref: '#/components/schemas/Loop' });
  });

  it('follows a chain of 16 references to its end, and gives up on the 17th', () => {
    // chain/n refers to chain/n+1; chain/<length> is the value.
    const chain = (length: number) =>
      ({
        chain: Object.fromEntries(
          Array.from({ length: length + 1 }, (_, n) => [
            n,
            n === length ? { end: true } : { $ref: `#/chain/${n + 1}` },
          ]),
        ),
      }) as unknown as OpenApiDocument;
    expect(resolveRef(chain(16), { $ref: '#/chain/1' })).toEqual({ end: true });
    expect(resolveRef(chain(17), { $ref: '#/chain/1' })).toEqual({ $ref: '#/chain/17' });
  });
});

describe(loadContractDocument.name, () => {
  it('reads the contract: OpenAPI 3.1 with its paths and request limits', () => {
    const contract = loadContractDocument();
    expect(contract.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(contract.paths).length).toBeGreaterThan(10);
    expect(contract['x-request-limits']).toEqual({
      maxBodyBytes: expect.any(Number),
      maxJsonDepth: expect.any(Number),
    });
  });
});
