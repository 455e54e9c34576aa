import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Message } from '@parley/api-types';
import { RealtimeEvents } from '../src/realtime/realtime-events.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { listen } from './support/live.js';
import { expectConformingFrames, RealtimeClient, realtimeContract } from './support/realtime-client.js';

// The realtime limits that take time or volume to reach: the hello timeout (4408) and the
// slow consumer (4409), each as the contract declares them.
describe('realtime limits', () => {
  const t = useTestApp();
  expectConformingFrames();
  let base: string;
  const sockets: RealtimeClient[] = [];

  beforeAll(async () => {
    base = await listen(t().app);
  });

  afterEach(() => {
    for (const client of sockets.splice(0)) client.drop();
  });

  it('closes a socket that says no hello within the declared time (4408), not before', async () => {
    const client = new RealtimeClient(base);
    sockets.push(client);
    await client.open();
    const opened = Date.now();
    const closed = await client.closed;
    expect(closed).toEqual({ code: 4408, reason: 'hello_timeout' });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(realtimeContract().limits.helloTimeoutMs - 250);
  }, 30_000);

  it('tells a client that stopped reading to resync (4409) once its unsent frames pass the bound, and stops sending', async () => {
    const { accessToken, user } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    const { client } = await RealtimeClient.connect(base, { token: accessToken });
    sockets.push(client);
    // The client stops reading: what the server sends piles up in the kernel, then in its buffer.
    const transport = (client.socket as unknown as { _socket: Socket })._socket;
    transport.pause();
    const now = new Date().toISOString();
    const big = (i: number): Message => ({
      id: randomUUID(),
      chatId: chat.id,
      seq: i + 2,
      role: 'user',
      content: `${i} ${'x'.repeat(100_000)}`,
      status: 'complete',
      errorCode: null,
      replyToId: null,
      parentId: null,
      finishReason: null,
      provider: null,
      model: null,
      degraded: false,
      usage: null,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    });
    const sent = 120;
    const events = t().app.get(RealtimeEvents);
    for (let i = 0; i < sent; i++)
      events.publish(user.id, { type: 'message.created', chatId: chat.id, message: big(i) });
    await events.flushed();
    // Long enough for every event to be read and offered to the socket.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    transport.resume();
    expect(await client.closed).toEqual({ code: 4409, reason: 'resync' });
    const received = client.of('message.created').length;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(sent);
  }, 60_000);
});
