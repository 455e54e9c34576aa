import { connect } from 'node:net';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { LiveStream, listen } from './support/live.js';

interface Outcome {
  /** Everything the server wrote before it closed the connection. */
  received: string;
  /** Milliseconds from the first byte sent to the close. */
  closedAfterMs: number;
}

// A client that sends `head` at once, then one byte of `trickle` every `everyMs`, until the
// server closes the connection (or `giveUpMs` passes).
function trickle(base: string, head: string, trickled: string, everyMs: number, giveUpMs = 20_000): Promise<Outcome> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const started = Date.now();
    let received = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${giveUpMs} ms; received ${JSON.stringify(received)}`));
    }, giveUpMs);
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (sent < trickled.length && socket.writable) socket.write(trickled[sent++]!);
      }, everyMs);
    });
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ received, closedAfterMs: Date.now() - started });
    });
  });
}

/** Issue 17, item 5: slow clients are cut off after deliberate, configurable limits. */
describe('slow clients', () => {
  const t = useTestApp({
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2000',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '700',
    HTTP_TIMEOUT_CHECK_INTERVAL_MS: '100',
    DEMO_FIRST_BYTE_DELAY_MS: '0',
    DEMO_CHUNK_DELAY_MS: '200',
  });
  let base: string;
  beforeAll(async () => {
    base = await listen(t().app);
  });

  function expect408(outcome: Outcome): void {
    const [head, body] = outcome.received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(body!)).toMatchObject({
      type: 'urn:parley:problem:request_timeout',
      status: 408,
      code: 'request_timeout',
      retryable: true,
    });
  }

  it('answers headers trickled one line at a time with 408 problem+json after the headers timeout', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: 1\r\n`).join('');
    const outcome = await trickle(base, 'GET /api/v1/characters HTTP/1.1\r\nHost: x\r\n', lines, 100);
    expect408(outcome);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(outcome.closedAfterMs).toBeLessThan(3000);
    process.stdout.write(`slow-clients: trickled headers closed after ${outcome.closedAfterMs} ms\n`);
  });

  it('answers a body trickled one byte at a time with 408 problem+json after the request timeout', async () => {
    const body = JSON.stringify({ email: 'slow@example.com', password: 'x'.repeat(200) });
    const head =
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${body.length}\r\n\r\n`;
    const outcome = await trickle(base, head, body, 100);
    expect408(outcome);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(1900);
    expect(outcome.closedAfterMs).toBeLessThan(4000);
    process.stdout.write(`slow-clients: trickled body closed after ${outcome.closedAfterMs} ms\n`);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const outcome = await trickle(base, 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n', '', 1000);
    expect(outcome.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(600);
    expect(outcome.closedAfterMs).toBeLessThan(2500);
  });

  it('never cuts a response that takes longer than the request timeout (a streamed reply)', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    const started = Date.now();
    const stream = new LiveStream(`${base}/api/v1/chats/${chat.id}/messages/stream`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${accessToken}` },
      body: { content: 'Tell me everything' },
    });
    await stream.finished;
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(stream.events.at(-1)?.event).toBe('done');
  });
});
