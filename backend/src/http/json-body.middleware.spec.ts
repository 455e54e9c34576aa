import request from 'supertest';
import { ContractService } from '../contract/contract.service.js';
import { bodyReaderServer } from '../../test/support/body-reader-server.js';
import { JsonBodyMiddleware } from './json-body.middleware.js';

// The body reader alone, in front of an echo: what it refuses never reaches a handler or the
// database, so a check that went missing cannot hide behind PostgreSQL refusing the same text.
const buildApp = (contract: ContractService) => bodyReaderServer(contract, [['post', '/api/v1/chats', 201]]);

// Compiling the contract takes a while: once for the file.
const contract = new ContractService();
const server = buildApp(contract);
const app = () => server;
const post = (raw: string) => request(app()).post('/api/v1/chats').set('Content-Type', 'application/json').send(raw);

describe(JsonBodyMiddleware.name, () => {
  it('passes well-formed text through untouched', async () => {
    const response = await post('{"characterId":"captain-mira","title":"a\\ud83d\\ude00b"}').expect(201);
    expect(response.body.received).toEqual({ characterId: 'captain-mira', title: 'a\u{1F600}b' });
  });

  it.each([
    ['a NUL character in a value', '{"characterId":"captain-mira","title":"a\\u0000b"}', '/title', 'nul'],
    ['a NUL character deep inside', '{"characterId":"captain-mira","x":[{"y":"\\u0000"}]}', '/x/0/y', 'nul'],
    ['a lone high surrogate', '{"characterId":"captain-mira","title":"a\\ud800b"}', '/title', 'unicode'],
    ['a lone low surrogate', '{"characterId":"captain-mira","title":"a\\udc00b"}', '/title', 'unicode'],
    ['a NUL character in a property name', '{"characterId":"captain-mira","a\\u0000":1}', '', 'unicode'],
    ['a lone surrogate in a property name', '{"characterId":"captain-mira","a\\ud800":1}', '', 'unicode'],
    ['a name needing escapes in its pointer', '{"a/b~c":"\\u0000"}', '/a~1b~0c', 'nul'],
  ])('refuses %s with 400 validation_failed, pointing at it', async (_name, raw, pointer, keyword) => {
    const response = await post(raw).expect(400);
    expect(response.body).toEqual({
      code: 'validation_failed',
      errors: [expect.objectContaining({ location: 'body', pointer, keyword })],
    });
  });

  it('refuses nesting deeper than the contract allows, at the level where it goes too deep', async () => {
    const { maxJsonDepth } = contract.requestLimits;
    const fits = `${'['.repeat(maxJsonDepth - 1)}${']'.repeat(maxJsonDepth - 1)}`;
    await post(`{"title":${fits}}`).expect(201);
    const deep = `${'['.repeat(maxJsonDepth)}${']'.repeat(maxJsonDepth)}`;
    const response = await post(`{"title":${deep}}`).expect(400);
    expect(response.body.errors).toEqual([expect.objectContaining({ keyword: 'depth' })]);
  });

  it("answers malformed JSON with 400 malformed_json, without the parser's words", async () => {
    const response = await post('{"title":').expect(400);
    expect(response.body).toEqual({ code: 'malformed_json', errors: [] });
  });

  it('answers a body that is not JSON in UTF-8 with 415', async () => {
    const text = await request(app()).post('/api/v1/chats').set('Content-Type', 'text/plain').send('hi').expect(415);
    expect(text.body.code).toBe('unsupported_media_type');
    const latin1 = await request(app())
      .post('/api/v1/chats')
      .set('Content-Type', 'application/json; charset=latin1')
      .send('{}')
      .expect(415);
    expect(latin1.body.code).toBe('unsupported_media_type');
  });
});
