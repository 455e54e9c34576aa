import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ofType, parseSse, type SseEvent } from './sse.js';

/** Listens on a loopback port so tests can hold real streaming connections. */
export async function listen(app: INestApplication): Promise<string> {
  const server = app.getHttpServer() as import('node:http').Server;
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A server-sent-events stream read as it arrives; it can be dropped like a closed tab. */
export class LiveStream {
  readonly events: SseEvent[] = [];
  readonly finished: Promise<void>;
  private readonly controller = new AbortController();
  private waiters: Array<() => void> = [];

  constructor(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown }) {
    this.finished = this.read(url, init);
  }

  async waitFor(predicate: (events: SseEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting; got ${this.events.map((e) => e.data.type).join(',')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Drops the connection (the client goes away). */
  drop(): void {
    this.controller.abort();
  }

  text(): string {
    return ofType(this.events, 'delta')
      .map((d) => d.text)
      .join('');
  }

  private async read(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown }) {
    try {
      const response = await fetch(url, {
        method: init.method ?? 'GET',
        headers: {
          Accept: 'text/event-stream',
          ...(init.body ? { 'Content-Type': 'application/json' } : {}),
          // The streaming forms require a key; a test that cares about it passes its own.
          ...(init.method === 'POST' ? { 'Idempotency-Key': randomUUID() } : {}),
          ...init.headers,
        },
        body: init.body ? JSON.stringify(init.body) : undefined,
        signal: this.controller.signal,
      });
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        const end = buffer.lastIndexOf('\n\n');
        if (end < 0) continue;
        this.events.push(...parseSse(buffer.slice(0, end + 2)));
        buffer = buffer.slice(end + 2);
        for (const wake of this.waiters.splice(0)) wake();
      }
    } catch (error) {
      if (!this.controller.signal.aborted) throw error;
    }
  }
}
