import request from 'supertest';
import { ContractService } from '../contract/contract.service.js';
import { bodyReaderServer } from '../../test/support/body-reader-server.js';
import { inspectStrings, JsonBodyMiddleware } from './json-body.middleware.js';

// The body reader's edges (beside json-body.middleware.spec.ts): the size limit, the media type's
// spelling, empty bodies, bodies sent where none is taken, and the words of each issue.

const contract = new ContractService();
const server = bodyReaderServer(contract, [
  ['post', '/api/v1/chats', 201],
  ['get', '/api/v1/chats', 200],
]);
const post = (raw: string, type = 'application/json') =>
  request(server).post('/api/v1/chats').set('Content-Type', type).send(raw);

describe(`${JsonBodyMiddleware.name} (limits and edges)`, () => {
  it.each([
    'application/json; charset=UTF-8',
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/json',
  ])('reads %s as JSON in UTF-8', async (type) => {
    const response = await post('{"title":"é"}', type).expect(201);
    expect(response.body.received).toEqual({ title: 'é' });
  });

  it.each(['application/json; charset=utf-16', 'application/jsonx', 'text/json'])(
    'refuses %p with 415 unsupported_media_type',
    async (type) => {
      const response = await request(server).post('/api/v1/chats').set('Content-Type', type).send('{}').expect(415);
      expect(response.body.code).toBe('unsupported_media_type');
    },
  );

  it('passes a request with Content-Length 0 on without reading a body', async () => {
    const response = await request(server).post('/api/v1/chats').set('Content-Length', '0').expect(201);
    expect(response.body.received).toBe('none');
  });

  it('ignores a body sent to an operation that takes none (read and dropped, not parsed)', async () => {
    const response = await request(server)
      .get('/api/v1/chats')
      .set('Content-Type', 'text/plain')
      .send('not json at all')
      .expect(200);
    expect(response.body.received).toBe('none');
  });

  it('takes a body of exactly the contract’s limit and refuses one byte more with 413', async () => {
    const { maxBodyBytes } = contract.requestLimits;
    const wrap = (size: number) => `{"title":"${'a'.repeat(size - '{"title":""}'.length)}"}`;
    await post(wrap(maxBodyBytes)).expect(201);
    await post(wrap(maxBodyBytes + 1)).expect(413);
  });

  it('answers bytes that are not UTF-8 with 400 malformed_json', async () => {
    const response = await request(server)
      .post('/api/v1/chats')
      .set('Content-Type', 'application/json')
      // As bytes (superagent would otherwise write a Buffer as JSON).
      .serialize((bytes: string) => bytes)
      .send(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) as unknown as string)
      .expect(400);
    expect(response.body).toEqual({ code: 'malformed_json', errors: [] });
  });
});

describe(inspectStrings.name, () => {
  it('words each issue for a person, with its keyword and pointer', () => {
    expect(inspectStrings({ a: '\u0000', b: '\ud800', 'c\u0000': 1 }, 32)).toEqual(
      expect.arrayContaining([
        { location: 'body', pointer: '/a', message: 'must not contain NUL characters', keyword: 'nul' },
        { location: 'body', pointer: '/b', message: 'must be valid Unicode text', keyword: 'unicode' },
        { location: 'body', pointer: '', message: 'property names must be valid text', keyword: 'unicode' },
      ]),
    );
    expect(inspectStrings([[['x']]], 2)).toEqual([
      { location: 'body', pointer: '/0/0', message: 'must not nest deeper than 2 levels', keyword: 'depth' },
    ]);
  });

  it('accepts text with surrogate pairs, and values that are not strings', () => {
    expect(inspectStrings({ a: 'a\u{1F600}b', b: 1, c: null, d: true, e: ['ok'] }, 32)).toEqual([]);
    expect(inspectStrings('\u{1F600}', 0)).toEqual([]);
  });

  it('stops at 20 issues however many there are', () => {
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, '\u0000']));
    expect(inspectStrings(many, 32)).toHaveLength(20);
    expect(
      inspectStrings(
        Array.from({ length: 20 }, () => '\u0000'),
        32,
      ),
    ).toHaveLength(20);
    expect(
      inspectStrings(
        Array.from({ length: 19 }, () => '\u0000'),
        32,
      ),
    ).toHaveLength(19);
  });

  it('allows nesting up to the depth and not one level more', () => {
    expect(inspectStrings({ a: { b: 'x' } }, 2)).toEqual([]);
    expect(inspectStrings({ a: { b: {} } }, 2)).toEqual([
      expect.objectContaining({ pointer: '/a/b', keyword: 'depth' }),
    ]);
  });
});
