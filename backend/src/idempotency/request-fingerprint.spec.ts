import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, requestFingerprint } from './request-fingerprint.js';

// The fingerprint is stored with each idempotency record: its exact bytes must not drift between
// releases, or a retry across a deploy would be refused as a different request.
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe(canonicalJson.name, () => {
  it('writes the exact canonical text: keys sorted at every level, no spaces', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1.5, y: { b: '', a: -0 } } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":{"a":0,"b":""},"z":1.5}}',
    );
  });

  it('sorts keys by code unit, not by locale or as numbers', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4, '10': 5, '9': 6, é: 7 })).toBe(
      '{"10":5,"9":6,"B":2,"_":4,"a":3,"b":1,"é":7}',
    );
  });

  it('leaves out undefined and function members, and writes undefined array items as null, like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: () => 1, c: 0, d: null, e: false, f: '' })).toBe(
      '{"c":0,"d":null,"e":false,"f":""}',
    );
    expect(canonicalJson([undefined, 1, [undefined]])).toBe('[null,1,[null]]');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
  });

  it('escapes names and strings as JSON does', () => {
    expect(canonicalJson({ 'a"b': 'c\\d\n', '\u0001': '\u2028' })).toBe('{"\\u0001":"\u2028","a\\"b":"c\\\\d\\n"}');
  });

  it('is JSON.stringify of the same value with its keys sorted', () => {
    const sortKeys = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(sortKeys)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                .map(([k, v]) => [k, sortKeys(v)]),
            )
          : value;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        // Integer-like keys come first in an object's own order; compare on the text, built by hand.
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(sortKeys(value))));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('is the same for the same members in any order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(object));
      }),
    );
  });
});

describe(requestFingerprint.name, () => {
  it('is the SHA-256 hex of the canonical [operation, parameters, body]', () => {
    expect(requestFingerprint('sendMessage', { chatId: 'c1' }, { content: 'hi', b: [1] })).toBe(
      sha256('["sendMessage",{"chatId":"c1"},{"b":[1],"content":"hi"}]'),
    );
    expect(requestFingerprint('cancelMessage', { messageId: 'm', chatId: 'c' }, undefined)).toBe(
      sha256('["cancelMessage",{"chatId":"c","messageId":"m"},null]'),
    );
    // Pinned bytes: a change to the canonical form fails here, not in production after a deploy.
    expect(requestFingerprint('createChat', {}, { characterId: 'captain-mira' })).toBe(
      sha256('["createChat",{},{"characterId":"captain-mira"}]'),
    );
  });

  it('tells apart the operation, a parameter and the body', () => {
    const base = requestFingerprint('sendMessage', { chatId: 'c1' }, { content: 'hi' });
    expect(requestFingerprint('editMessage', { chatId: 'c1' }, { content: 'hi' })).not.toBe(base);
    expect(requestFingerprint('sendMessage', { chatId: 'c2' }, { content: 'hi' })).not.toBe(base);
    expect(requestFingerprint('sendMessage', { chatId: 'c1' }, { content: 'hi!' })).not.toBe(base);
    expect(requestFingerprint('sendMessage', { chatId: 'c1' }, null)).toBe(
      requestFingerprint('sendMessage', { chatId: 'c1' }, undefined),
    );
  });
});
