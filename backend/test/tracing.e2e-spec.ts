import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { call, exited, start, stopRunning, type Running } from './support/process-app.js';
import { freePort } from '../src/database/embedded-postgres.js';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';
import { createTestDatabase, dropTestDatabase } from './support/test-app.js';

const SPAN_KIND_SERVER = 2;
const STATUS_ERROR = 2;

// The production build as a real process exporting over OTLP/HTTP to a receiver in this test;
// the provider is a Gemini-protocol server here that fails the turn's first attempt (503).
describe('OpenTelemetry traces', () => {
  let receiver: OtlpReceiver;
  let provider: DemoGeminiServer;
  let databaseUrl: string;
  let dataDir: string;
  let app: Running | undefined;

  beforeAll(async () => {
    receiver = await new OtlpReceiver().start();
    provider = await DemoGeminiServer.start();
    databaseUrl = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'parley-tracing-'));
    app = await start(dataDir, {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'tracing-test-secret-long-enough-for-hs256',
      SERVE_FRONTEND: 'false',
      GEMINI_API_KEY: 'test-key',
      GEMINI_BASE_URL: provider.baseUrl,
      RETRY_BASE_DELAY_MS: '10',
      RETRY_MAX_DELAY_MS: '20',
      PROVIDER_PROBE_INTERVAL_MS: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  }, 120_000);

  afterAll(async () => {
    await stopRunning(app);
    await provider.close();
    await receiver.close();
    await dropTestDatabase(databaseUrl);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('traces a turn with a retry: request → turn → two provider attempts (the first failed) and its statements, one trace id in spans and log lines', async () => {
    const base = app!.base;
    const registered = await call(base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `trace-${randomUUID()}@example.com`, password: 'correct horse battery' },
    });
    const token = registered.body.accessToken as string;
    const chat = await call(base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } });
    provider.enqueueFaults({ kind: 'http_503' });
    const response = await fetch(`${base}/api/v1/chats/${chat.body.id}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'Trace this' }),
    });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { retries: number }).retries).toBe(1);
    const requestId = response.headers.get('x-request-id')!;

    const turn = await eventually(() => receiver.spans.find((s) => s.name === 'turn'));
    const traceId = turn.traceId;
    // The turn's whole tree has arrived once the request's own span has (it ends last).
    const request = await eventually(() => receiver.spans.find((s) => s.spanId === turn.parentSpanId));
    const trace = receiver.spans.filter((s) => s.traceId === traceId);

    expect(request).toMatchObject({
      kind: SPAN_KIND_SERVER,
      scope: '@opentelemetry/instrumentation-http',
      name: 'POST /api/v1/chats/:chatId/messages',
      attributes: expect.objectContaining({ 'http.route': '/api/v1/chats/:chatId/messages' }),
    });
    expect(request.parentSpanId).toBeUndefined();
    expect(request.attributes['http.request.method'] ?? request.attributes['http.method']).toBe('POST');
    expect(turn.attributes).toMatchObject({ 'parley.turn.kind': 'send', 'parley.chat_id': chat.body.id });

    const attempts = childrenOf(trace, turn).filter((s) => s.name === 'provider gemini');
    expect(attempts.map((s) => s.attributes['parley.attempt'])).toEqual([1, 2]);
    expect(attempts[0]!.status).toMatchObject({ code: STATUS_ERROR, message: 'provider_unavailable' });
    expect(attempts[1]!.status.code).not.toBe(STATUS_ERROR);

    // Statements of the turn (persist-before, persist-after) under the turn, not beside it.
    const statements = childrenOf(trace, turn).filter((s) => s.scope === '@opentelemetry/instrumentation-pg');
    // Persist-before and persist-after are one call each (their functions), the context a read.
    const texts = statements.map((s) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? ''));
    for (const call of ['turn_context(', 'turn_append(', 'turn_complete(']) {
      expect(texts.filter((text) => text.includes(call))).toHaveLength(1);
    }
    // Every span of this trace descends from the request's span.
    for (const span of trace) expect(rootOf(trace, span)).toBe(request);

    // The request's log lines carry its trace: the request line with its request id, the turn's
    // lines with the same trace id.
    const lines = app!
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLine = lines.find((l) => l.request_id === requestId && l.msg === 'request completed');
    expect(requestLine).toMatchObject({ trace_id: traceId, span_id: request.spanId });
    const traced = lines.filter((l) => l.trace_id === traceId);
    expect(traced.length).toBeGreaterThan(0);
    expect(traced.every((l) => l.request_id === undefined || l.request_id === requestId)).toBe(true);
  }, 60_000);

  it('traces a tool call in its own span under the turn', async () => {
    const base = app!.base;
    const registered = await call(base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `trace-tool-${randomUUID()}@example.com`, password: 'correct horse battery' },
    });
    const token = registered.body.accessToken as string;
    const chat = await call(base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } });
    // The Gemini-protocol server asks for the dice tool when the message mentions dice.
    const response = await fetch(`${base}/api/v1/chats/${chat.body.id}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'Roll the dice for me: 2d6' }),
    });
    expect(response.status).toBe(201);
    const tool = await eventually(() => receiver.spans.find((s) => s.name === 'tool roll_dice'));
    expect(tool.attributes).toMatchObject({ 'parley.tool.name': 'roll_dice', 'parley.tool.step': 1 });
    const turn = await eventually(() =>
      receiver.spans.find(
        (s) => s.name === 'turn' && s.traceId === tool.traceId && s.attributes['parley.chat_id'] === chat.body.id,
      ),
    );
    const trace = receiver.spans.filter((s) => s.traceId === tool.traceId);
    // Under the turn (through its provider attempt), not beside it.
    const ancestors: ReceivedSpan[] = [];
    for (let at = tool.parentSpanId; at;) {
      const parent = trace.find((s) => s.spanId === at);
      if (!parent) break;
      ancestors.push(parent);
      at = parent.parentSpanId;
    }
    expect(ancestors).toContain(turn);
  }, 60_000);
});

// Start-up and requests do not wait for a collector: with the endpoint on a port nobody listens
// on, the app starts, answers a turn, and stops as usual (the export fails in the background).
describe('OpenTelemetry traces with the collector unreachable', () => {
  let databaseUrl: string;
  let dataDir: string;
  let app: Running | undefined;

  afterAll(async () => {
    await stopRunning(app);
    await dropTestDatabase(databaseUrl);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts, serves a turn and shuts down', async () => {
    databaseUrl = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'parley-tracing-'));
    app = await start(dataDir, {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'tracing-test-secret-long-enough-for-hs256',
      SERVE_FRONTEND: 'false',
      PROVIDER_PROBE_INTERVAL_MS: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const registered = await call(app.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `trace-${randomUUID()}@example.com`, password: 'correct horse battery' },
    });
    const token = registered.body.accessToken as string;
    const chat = await call(app.base, '/api/v1/chats', {
      method: 'POST',
      token,
      body: { characterId: 'captain-mira' },
    });
    const turn = await call(app.base, `/api/v1/chats/${chat.body.id}/messages`, {
      method: 'POST',
      token,
      body: { content: 'Anyone listening?' },
    });
    expect(turn.status).toBe(201);
    app.child.kill('SIGTERM');
    expect(await exited(app.child)).toBe(0);
  }, 120_000);
});

function childrenOf(spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId);
}

function rootOf(spans: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan | undefined {
  let current: ReceivedSpan | undefined = span;
  while (current?.parentSpanId) current = spans.find((s) => s.spanId === current!.parentSpanId);
  return current;
}

async function eventually<T>(find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('not received in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
