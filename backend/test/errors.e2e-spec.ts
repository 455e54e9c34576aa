import { ProblemFilter } from '../src/errors/problem.filter.js';
import { useTestApp } from './support/test-app.js';
import { registerUser } from './support/factories.js';

describe(ProblemFilter.name, () => {
  const t = useTestApp({ BODY_LIMIT_BYTES: '4096' });
  let token: string;

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });

  const postChat = () => t().http.post('/api/chats').set('Authorization', `Bearer ${token}`);

  it('answers malformed JSON with 400 malformed_json and no parser text', async () => {
    const response = await postChat()
      .set('Content-Type', 'application/json')
      .send('{"characterId": "captain-mira",')
      .expect(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('malformed_json');
    expect(JSON.stringify(response.body)).not.toMatch(/Unexpected|position|SyntaxError/);
  });

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const response = await postChat()
      .send({ characterId: 'captain-mira', title: 'x'.repeat(5000) })
      .expect(413);
    expect(response.body.code).toBe('payload_too_large');
  });

  it.each([
    ['text/plain', 'characterId=captain-mira'],
    ['application/x-www-form-urlencoded', 'characterId=captain-mira'],
  ])('answers a %s body with 415 unsupported_media_type', async (type, body) => {
    const response = await postChat().set('Content-Type', type).send(body).expect(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });

  it('answers a missing body with 400', async () => {
    const response = await postChat().expect(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it.each([
    ['a NUL character', '{"characterId":"captain-mira","title":"a\\u0000b"}'],
    ['a lone surrogate', '{"characterId":"captain-mira","title":"a\\ud800b"}'],
    ['a NUL character in a property name', '{"characterId":"captain-mira","a\\u0000":1}'],
  ])('answers text with %s with 400 validation_failed', async (_name, raw) => {
    const response = await postChat().set('Content-Type', 'application/json').send(raw).expect(400);
    expect(response.body.code).toBe('validation_failed');
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
    for (const path of ['/api/nothing-here', '/nothing-here', '/api/chats/extra/segments/here']) {
      const response = await t().http.get(path).expect(404);
      expect(response.body.code).toBe('route_not_found');
    }
  });

  it('localizes the message from Accept-Language and keeps the code stable', async () => {
    const en = await t().http.get('/api/me').expect(401);
    const zh = await t().http.get('/api/me').set('Accept-Language', 'zh-CN').expect(401);
    expect(zh.body.code).toBe(en.body.code);
    expect(zh.body.messageKey).toBe('errors.unauthenticated');
    expect(en.body.message).toMatch(/sign in/i);
    expect(zh.body.message).toMatch(/[\u4e00-\u9fff]/);
  });

  it('echoes a safe X-Request-Id and replaces an unsafe one', async () => {
    const ok = await t().http.get('/api/me').set('X-Request-Id', 'client-id-123').expect(401);
    expect(ok.headers['x-request-id']).toBe('client-id-123');
    expect(ok.body.requestId).toBe('client-id-123');
    const unsafe = await t().http.get('/api/me').set('X-Request-Id', 'bad id with spaces').expect(401);
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(unsafe.body.requestId).toBe(unsafe.headers['x-request-id']);
  });

  it('answers bad UUID text with 400 before it reaches the database', async () => {
    const response = await t()
      .http.get("/api/chats/1'%20OR%20'1'='1")
      .set('Authorization', `Bearer ${token}`)
      .expect(400);
    expect(response.body.code).toBe('validation_failed');
  });
});
