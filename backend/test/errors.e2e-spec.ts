import { ProblemFilter } from '../src/errors/problem.filter.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { listen } from './support/live.js';
import { ContractService } from '../src/contract/contract.service.js';

describe(ProblemFilter.name, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '10000000' });
  let token: string;

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });

  const postChat = () => t().http.post('/api/v1/chats').set('Authorization', `Bearer ${token}`);

  it('answers malformed JSON with 400 malformed_json and no parser text', async () => {
    const response = await postChat()
      .set('Content-Type', 'application/json')
      .send('{"characterId": "captain-mira",')
      .expect(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('malformed_json');
    expect(JSON.stringify(response.body)).not.toMatch(/Unexpected|position|SyntaxError/);
  });

  it('answers a body one byte over the declared limit with 413 payload_too_large', async () => {
    const limit = t().app.get(ContractService).requestLimits.maxBodyBytes;
    const body = JSON.stringify({ characterId: 'captain-mira', title: 'x' });
    const padded = body.replace('"x"', `"x"${' '.repeat(limit + 1 - body.length)}`);
    expect(Buffer.byteLength(padded)).toBe(limit + 1);
    const response = await postChat().set('Content-Type', 'application/json').send(padded).expect(413);
    expect(response.body.code).toBe('payload_too_large');
    // At the limit it is read (and then judged on its content).
    await postChat().set('Content-Type', 'application/json').send(padded.replace(' ', '')).expect(201);
  });

  it('accepts the longest valid message even when every character is sent as a JSON escape', async () => {
    const chat = await createChat(t(), token);
    const emoji = '\\ud83d\\ude80'; // one code point, twelve bytes escaped
    const raw = `{"content":"${emoji.repeat(8000)}"}`;
    expect(Buffer.byteLength(raw)).toBeGreaterThan(96_000);
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/json')
      .send(raw)
      .expect(201);
    expect(Array.from(response.body.userMessage.content as string)).toHaveLength(8000);
  });

  it.each([
    ['text/plain', 'characterId=captain-mira'],
    ['application/x-www-form-urlencoded', 'characterId=captain-mira'],
    ['application/json; charset=utf-16', '{"characterId":"captain-mira"}'],
    ['application/json; charset=latin1', '{"characterId":"captain-mira"}'],
    ['application/merge-patch+json', '{"characterId":"captain-mira"}'],
    ['application/vnd.parley+json', '{"characterId":"captain-mira"}'],
  ])('answers a %s body with 415 unsupported_media_type', async (type, body) => {
    const response = await postChat().set('Content-Type', type).send(body).expect(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });

  it.each(['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'Application/JSON'])(
    'accepts %s',
    async (type) => {
      await postChat().set('Content-Type', type).send('{"characterId":"captain-mira"}').expect(201);
    },
  );

  it('answers bytes that are not UTF-8 with 400 malformed_json, never storing a replacement character', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"characterId":"captain-mira","title":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('b"}'),
    ]);
    // Raw bytes over a real socket (supertest would serialize a Buffer as JSON).
    const response = await fetch(`${await listen(t().app)}/api/v1/chats`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: bytes,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('malformed_json');
    const [{ count }] = await t().dataSource.query(
      `SELECT count(*)::int AS count FROM chats WHERE title LIKE '%' || chr(65533) || '%'`,
    );
    expect(count).toBe(0);
  });

  it('ignores a body sent to an operation that takes none', async () => {
    for (const [type, body] of [
      ['text/plain', 'hello'],
      ['application/json', '{not json'],
      ['application/json', JSON.stringify({ x: 'y'.repeat(200_000) })],
    ] as const) {
      const response = await t()
        .http.get('/api/v1/me')
        .set('Authorization', `Bearer ${token}`)
        .set('Content-Type', type)
        .send(body)
        .expect(200);
      expect(response.body.id).toBeDefined();
    }
  });

  it('answers HEAD, OPTIONS and undeclared methods on the contract paths with 404 route_not_found', async () => {
    await t().http.head('/api/v1/characters').expect(404);
    await t().http.head('/health/live').expect(404);
    const options = await t().http.options('/api/v1/characters').expect(404);
    expect(options.body.code).toBe('route_not_found');
    expect(options.headers.allow).toBeUndefined();
    const put = await t().http.put('/api/v1/me').set('Authorization', `Bearer ${token}`).send({}).expect(404);
    expect(put.body.code).toBe('route_not_found');
  });

  it('never answers 304: conditional request headers are ignored', async () => {
    const later = new Date(Date.now() + 86_400_000).toUTCString();
    for (const headers of [{ 'If-None-Match': '*' }, { 'If-Modified-Since': later }]) {
      const response = await t().http.get('/api/v1/characters').set(headers).expect(200);
      expect(response.headers.etag).toBeUndefined();
      expect(response.body.items.length).toBeGreaterThan(0);
    }
  });

  it('sends security headers on every response', async () => {
    for (const path of ['/api/v1/characters', '/api/v1/me', '/nowhere']) {
      const response = await t().http.get(path);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    }
  });

  it('challenges every 401 with WWW-Authenticate, naming an invalid token when one was sent', async () => {
    const none = await t().http.get('/api/v1/me').expect(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="parley"');
    const bad = await t().http.get('/api/v1/me').set('Authorization', 'Bearer not.a.token').expect(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer realm="parley", error="invalid_token"');
    const login = await t()
      .http.post('/api/v1/auth/login')
      .send({ email: 'nobody@example.com', password: 'x' })
      .expect(401);
    expect(login.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it('answers 401 for a correctly signed token whose account is gone, never a 500', async () => {
    const gone = await registerUser(t());
    await t().dataSource.query('DELETE FROM users WHERE id = $1', [gone.user.id]);
    const response = await t()
      .http.post('/api/v1/chats')
      .set('Authorization', `Bearer ${gone.accessToken}`)
      .send({ characterId: 'captain-mira' })
      .expect(401);
    expect(response.body.code).toBe('unauthenticated');
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it.each(['gzip', 'deflate', 'br'])('answers a body with Content-Encoding %s with 415', async (encoding) => {
    const response = await postChat()
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', encoding)
      .send('{"characterId":"captain-mira"}')
      .expect(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });

  it('carries X-Request-Id even when the path cannot be decoded', async () => {
    const response = await t().http.get('/api/v1/characters/%ZZ').set('X-Request-Id', 'broken-path-1');
    expect(response.status).toBeLessThan(500);
    expect(response.headers['x-request-id']).toBe('broken-path-1');
    expect(response.body.requestId).toBe('broken-path-1');
  });

  it('serves the contract paths only as spelt: another case or a trailing slash is 404', async () => {
    const chat = await createChat(t(), token);
    const authorized = { Authorization: `Bearer ${token}` };
    for (const path of ['/api/v1/chats/', '/API/V1/CHATS', '/api/v1/Characters', '/METRICS', '/openapi.yaml/']) {
      const response = await t().http.get(path).set(authorized).expect(404);
      expect(response.body.code).toBe('route_not_found');
    }
    await t().http.delete(`/API/V1/CHATS/${chat.id.toUpperCase()}`).set(authorized).expect(404);
    await t().http.get(`/api/v1/chats/${chat.id}`).set(authorized).expect(200);
  });

  it('answers a missing body with 400', async () => {
    const response = await postChat().expect(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it.each([
    ['a NUL character', '{"characterId":"captain-mira","title":"a\\u0000b"}'],
    ['a lone surrogate', '{"characterId":"captain-mira","title":"a\\ud800b"}'],
    ['a NUL character in a property name', '{"characterId":"captain-mira","a\\u0000":1}'],
  ])('answers text with %s with 400 validation_failed, pointing at it', async (_name, raw) => {
    const response = await postChat().set('Content-Type', 'application/json').send(raw).expect(400);
    expect(response.body.code).toBe('validation_failed');
    // Found by the body reader itself (not later by the database or the schema).
    expect(response.body.errors[0]).toMatchObject({
      location: 'body',
      keyword: expect.stringMatching(/^(nul|unicode)$/),
    });
    expect(response.body.errors[0].pointer).toMatch(/^(\/title)?$/);
  });

  it('answers a deeply nested body with 400, not a crash', async () => {
    const t2 = '['.repeat(2000) + ']'.repeat(2000);
    const response = await postChat()
      .set('Content-Type', 'application/json')
      .send(`{"characterId":"captain-mira","title":${t2}}`)
      .expect(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors[0].keyword).toBe('depth');
  });

  it('answers an unknown route with 404 route_not_found', async () => {
    for (const path of ['/api/v1/nothing-here', '/nothing-here', '/api/v1/chats/extra/segments/here']) {
      const response = await t().http.get(path).expect(404);
      expect(response.body.code).toBe('route_not_found');
    }
  });

  it('localizes the message from Accept-Language and keeps the code stable', async () => {
    const en = await t().http.get('/api/v1/me').expect(401);
    const zh = await t().http.get('/api/v1/me').set('Accept-Language', 'zh-CN').expect(401);
    expect(zh.body.code).toBe(en.body.code);
    expect(zh.body.messageKey).toBe('errors.unauthenticated');
    expect(en.body.message).toMatch(/sign in/i);
    expect(zh.body.message).toMatch(/[\u4e00-\u9fff]/);
  });

  it('echoes a safe X-Request-Id and replaces an unsafe one', async () => {
    const ok = await t().http.get('/api/v1/me').set('X-Request-Id', 'client-id-123').expect(401);
    expect(ok.headers['x-request-id']).toBe('client-id-123');
    expect(ok.body.requestId).toBe('client-id-123');
    const unsafe = await t().http.get('/api/v1/me').set('X-Request-Id', 'bad id with spaces').expect(401);
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(unsafe.body.requestId).toBe(unsafe.headers['x-request-id']);
  });

  it('answers bad UUID text with 400 before it reaches the database', async () => {
    const response = await t()
      .http.get("/api/v1/chats/1'%20OR%20'1'='1")
      .set('Authorization', `Bearer ${token}`)
      .expect(400);
    expect(response.body.code).toBe('validation_failed');
  });
});
