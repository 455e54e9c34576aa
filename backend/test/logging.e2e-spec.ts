import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import type { AuthResponse, Chat } from '@parley/api-types';
import { createApp } from '../src/app.factory.js';
import type { AppConfig } from '../src/config/app-config.js';
import { prepareDatabase } from '../src/database/database-server.js';
import { bootstrapLogger, LoggingModule } from '../src/telemetry/logging/logging.module.js';
import { createTestDatabase, dropTestDatabase, testConfig } from './support/test-app.js';

// Keeps everything the app logs, to be read back once the requests are done.
class LogCapture extends Writable {
  private readonly chunks: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk.toString('utf8'));
    done();
  }

  get text(): string {
    return this.chunks.join('');
  }

  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }

  entries(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

interface Sent {
  response: request.Response;
  method: string;
  route: string;
}

const TURN_FIELDS = ['chat_id', 'user_id', 'character_id', 'provider', 'error_code', 'retry_count', 'duration_ms'];

describe(LoggingModule.name, () => {
  const capture = new LogCapture();
  // One marker, sent everywhere a user's words or secrets go; it must never reach the logs.
  const marker = `marker-${randomUUID()}`;
  const email = `${marker}@example.com`;
  const password = `${marker}-password`;
  const clientRequestId = `client-${randomUUID()}`;
  const tokens: string[] = [];
  const sent: Sent[] = [];
  let app: NestExpressApplication | undefined;
  let config: AppConfig;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-data-'));
    const env = {
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'debug',
      DEBUG_FAULTS: 'true',
      RETRY_BASE_DELAY_MS: '10',
      RETRY_MAX_DELAY_MS: '40',
    };
    // As main.ts does: the database's start-up lines are JSON too, and captured with the rest.
    Logger.overrideLogger(bootstrapLogger(testConfig(env), { destination: capture }));
    ({ config } = await prepareDatabase(testConfig(env)));
    app = await createApp(config, { logDestination: capture });
    await app.init();
    const http = request(app.getHttpServer());
    const track = (response: request.Response, method: string, route: string) => {
      sent.push({ response, method, route });
      return response;
    };

    // Registration: the marker in the email's local part, the password and the display name.
    const registered = track(
      await http.post('/api/v1/auth/register').send({ email, password, displayName: marker }).expect(201),
      'POST',
      '/api/v1/auth/register',
    );
    const token = (registered.body as AuthResponse).accessToken;
    tokens.push(token);
    track(
      await http
        .post('/api/v1/auth/login')
        .send({ email, password: `wrong-${marker}` })
        .expect(401),
      'POST',
      '/api/v1/auth/login',
    );
    const login = track(
      await http.post('/api/v1/auth/login').send({ email, password }).expect(200),
      'POST',
      '/api/v1/auth/login',
    );
    tokens.push((login.body as AuthResponse).accessToken);
    const auth = { Authorization: `Bearer ${token}` };

    const created = track(
      await http.post('/api/v1/chats').set(auth).send({ characterId: 'captain-mira', title: marker }).expect(201),
      'POST',
      '/api/v1/chats',
    );
    const chat = created.body as Chat;
    const messages = `/api/v1/chats/${chat.id}/messages`;
    const turnRoute = '/api/v1/chats/:chatId/messages';
    track(
      await http
        .post(messages)
        .set(auth)
        .send({ content: `Tell me about ${marker}` })
        .expect(201),
      'POST',
      turnRoute,
    );
    track(
      await http
        .post(`${messages}/stream`)
        .set(auth)
        .set('Idempotency-Key', randomUUID())
        .send({ content: `Stream me ${marker}` })
        .expect(200),
      'POST',
      `${turnRoute}/stream`,
    );
    track(
      await http
        .post(messages)
        .set(auth)
        .set('X-Debug-Force-Error', 'provider_503')
        .send({ content: `Fail on ${marker}` })
        .expect(503),
      'POST',
      turnRoute,
    );
    // Rejected bodies: an unknown property, and malformed JSON (refused before routing, so the path is logged).
    track(
      await http
        .post(messages)
        .set(auth)
        .send({ content: marker, [marker]: marker })
        .expect(400),
      'POST',
      turnRoute,
    );
    track(
      await http
        .post(messages)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(`{"content": "${marker}`)
        .expect(400),
      'POST',
      messages,
    );
    // A bearer that is no token, a query string, and an id offered by the client.
    track(await http.get('/api/v1/chats').set('Authorization', `Bearer ${marker}`).expect(401), 'GET', '/api/v1/chats');
    track(await http.get(`${messages}?note=${marker}`).set(auth), 'GET', turnRoute);
    track(
      await http.get(`/api/v1/chats/${chat.id}`).set(auth).set('X-Request-Id', clientRequestId).expect(200),
      'GET',
      '/api/v1/chats/:chatId',
    );

    // The second line of defence: fields that must never be logged are censored wherever they turn up.
    new Logger('LoggingTest').log({
      event: 'redaction_probe',
      content: marker,
      password: marker,
      accessToken: marker,
      authorization: `Bearer ${marker}`,
      turn: { content: marker, password: marker, body: marker },
    });

    // Errors keep their name, message and stack, never their other properties (a query's parameters, a
    // parser's raw body), and a message that quotes the body is withheld.
    new Logger('LoggingTest').error(Object.assign(new Error('insert failed'), { parameters: [marker] }));
    new Logger('LoggingTest').error(
      Object.assign(new SyntaxError(`Unexpected end of JSON input in "${marker}"`), {
        type: 'entity.parse.failed',
        body: `{"content": "${marker}`,
      }),
    );

    // A request's line is written when its response finishes, which may be just after the client has it.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !sent.every(({ response }) => requestLine(response))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  afterAll(async () => {
    await app?.close();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  function requestLine(response: request.Response): Record<string, unknown> | undefined {
    const id = response.headers['x-request-id'];
    return capture
      .entries()
      .find((entry) => entry.request_id === id && typeof entry.msg === 'string' && entry.msg.startsWith('request '));
  }

  it('writes every line as one JSON object', () => {
    expect(capture.lines.length).toBeGreaterThan(sent.length);
    for (const line of capture.lines) {
      expect(() => JSON.parse(line)).not.toThrow();
      expect(JSON.parse(line)).toEqual(
        expect.objectContaining({ level: expect.any(String), time: expect.any(String) }),
      );
    }
  });

  it('never logs message text, passwords, tokens or the Authorization header', () => {
    expect(tokens).toHaveLength(2);
    expect(capture.text).not.toContain(marker);
    for (const token of tokens) expect(capture.text).not.toContain(token);
    expect(capture.text).not.toMatch(/bearer /i);
    // The probe was logged, censored rather than dropped.
    const probe = capture.entries().find((entry) => entry.event === 'redaction_probe');
    expect(probe).toMatchObject({
      context: 'LoggingTest',
      content: '[Redacted]',
      password: '[Redacted]',
      accessToken: '[Redacted]',
      authorization: '[Redacted]',
      turn: { content: '[Redacted]', password: '[Redacted]', body: '[Redacted]' },
    });
  });

  it('logs errors by name, message and stack only', () => {
    const errors = capture.entries().filter((entry) => entry.context === 'LoggingTest' && entry.err !== undefined);
    expect(errors).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'insert failed',
        err: { type: 'Error', message: 'insert failed', stack: expect.stringContaining('insert failed') },
      }),
      expect.objectContaining({
        level: 'error',
        msg: expect.stringMatching(/^withheld/),
        err: { type: 'SyntaxError', message: expect.stringMatching(/^withheld/) },
      }),
    ]);
  });

  it('logs each request once: id, method, route template, status and duration, nothing else', () => {
    for (const { response, method, route } of sent) {
      const id = response.headers['x-request-id'];
      expect(id).toEqual(expect.any(String));
      const lines = capture.entries().filter((entry) => entry.request_id === id && entry.msg === 'request completed');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toEqual({
        level: response.status >= 500 ? 'error' : response.status >= 400 ? 'warn' : 'info',
        time: expect.any(String),
        pid: expect.any(Number),
        hostname: expect.any(String),
        request_id: id,
        method,
        route,
        status_code: response.status,
        duration_ms: expect.any(Number),
        msg: 'request completed',
      });
    }
  });

  it('takes a safe X-Request-Id from the client, echoes it and logs it', () => {
    const echoed = sent.filter(({ response }) => response.headers['x-request-id'] === clientRequestId);
    expect(echoed).toHaveLength(1);
    expect(requestLine(echoed[0]!.response)).toMatchObject({ request_id: clientRequestId, status_code: 200 });
  });

  it("writes a Nest logger's object message as top-level fields", () => {
    expect(capture.entries()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ context: 'Moderation', event: 'moderation_policy', version: expect.anything() }),
        expect.objectContaining({ context: 'Database', event: 'db_pool_detected', mode: expect.any(String) }),
      ]),
    );
  });

  it('logs turn_completed and turn_failed with the turn fields', () => {
    const turns = capture
      .entries()
      .filter((entry) => entry.event === 'turn_completed' || entry.event === 'turn_failed');
    const completed = turns.filter((entry) => entry.event === 'turn_completed');
    const failed = turns.filter((entry) => entry.event === 'turn_failed');
    expect(completed.length).toBeGreaterThanOrEqual(2);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const line of turns) {
      for (const field of TURN_FIELDS) expect(line).toHaveProperty(field);
    }
    expect(failed[0]).toMatchObject({ error_code: 'provider_unavailable' });
  });

  // Last: a new app takes the process's logger over (see log-destination.ts).
  it('logs nothing at all for an app created with logger: false', async () => {
    const quiet = new LogCapture();
    const silent = await createApp(config, { logger: false, logDestination: quiet });
    try {
      await silent.init();
      await request(silent.getHttpServer()).get('/api/v1/chats').expect(401);
      new Logger('LoggingTest').error({ event: 'should_not_appear' });
    } finally {
      await silent.close();
    }
    expect(quiet.lines).toEqual([]);
  });
});
