import WebSocket from 'ws';
import type { ClientFrame, RealtimeEvent, ServerFrame } from '@parley/api-types';
import { RealtimeContract } from '../../src/contract/realtime-contract.js';

// One validator for the run: every frame any test socket sends or receives is checked against
// contracts/realtime.asyncapi.yaml, and each test file asserts that nothing broke it.
const contract = new RealtimeContract();
export const realtimeViolations: string[] = [];

export function realtimeContract(): RealtimeContract {
  return contract;
}

/** Registers the check that every frame of the file's sockets conformed (call in a describe). */
export function expectConformingFrames(): void {
  afterAll(() => expect(realtimeViolations).toEqual([]));
}

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real WebSocket client (the `ws` package) on the realtime channel: it records every frame it
 * receives, checks each against the contract both ways, and waits for what a test expects.
 */
export class RealtimeClient {
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<Closed>;
  readonly socket: WebSocket;
  private readonly opened: Promise<void>;

  constructor(base: string, options: { headers?: Record<string, string> } = {}) {
    this.socket = new WebSocket(`${base.replace(/^http/, 'ws')}${contract.path}`, { headers: options.headers });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(text) as ServerFrame;
      } catch {
        realtimeViolations.push(`server sent a frame that is not JSON: ${text.slice(0, 80)}`);
        return;
      }
      for (const violation of contract.serverFrameViolations(frame))
        realtimeViolations.push(`received ${violation} ${text.slice(0, 200)}`);
      this.frames.push(frame);
    });
  }

  /** Opens and says hello; resolves with the `ready` frame. */
  static async connect(
    base: string,
    hello: Omit<Extract<ClientFrame, { type: 'hello' }>, 'type'>,
  ): Promise<{ client: RealtimeClient; ready: Extract<ServerFrame, { type: 'ready' }> }> {
    const client = new RealtimeClient(base);
    await client.open();
    client.send({ type: 'hello', ...hello });
    const ready = await client.next('ready');
    return { client, ready };
  }

  open(): Promise<void> {
    return this.opened;
  }

  /** Sends a frame of the contract (checked like those received). */
  send(frame: ClientFrame): void {
    for (const violation of contract.clientFrameViolations(frame)) realtimeViolations.push(`sent ${violation}`);
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends anything at all (bad input on purpose; not checked). */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.socket.send(data, { binary: options.binary ?? false });
  }

  async next<T extends ServerFrame['type']>(
    type: T,
    where: (frame: Extract<ServerFrame, { type: T }>) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Extract<ServerFrame, { type: T }>> {
    let found: Extract<ServerFrame, { type: T }> | undefined;
    await this.waitFor(() => {
      found = this.frames.find(
        (f): f is Extract<ServerFrame, { type: T }> => f.type === type && where(f as Extract<ServerFrame, { type: T }>),
      );
      return found !== undefined;
    }, timeoutMs);
    return found!;
  }

  async waitFor(predicate: (frames: ServerFrame[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.frames)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out; frames: ${this.frames.map((f) => f.type).join(', ') || 'none'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The user's events received, in order of arrival. */
  events(): RealtimeEvent[] {
    return this.frames.filter((f): f is RealtimeEvent => 'seq' in f && f.type !== 'ready' && f.type !== 'resync');
  }

  of<T extends ServerFrame['type']>(type: T): Array<Extract<ServerFrame, { type: T }>> {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: T }> => f.type === type);
  }

  /** The highest event number received (what a reconnecting client sends as `lastSeq`). */
  lastSeq(): number {
    return Math.max(0, ...this.events().map((e) => e.seq));
  }

  close(): Promise<Closed> {
    this.socket.close(1000);
    return this.closed;
  }

  /** Cuts the connection without a close handshake, as a lost network would. */
  drop(): void {
    this.socket.terminate();
  }
}

/** A reply's text as the socket's `reply.delta` events build it (by offset, so repeats are harmless). */
export function replyText(events: RealtimeEvent[], messageId: string): string {
  let text = '';
  for (const event of events) {
    if (event.type !== 'reply.delta' || event.messageId !== messageId) continue;
    if (event.offset > text.length) throw new Error(`a gap before offset ${event.offset} (have ${text.length})`);
    text = text.slice(0, event.offset) + event.text;
  }
  return text;
}
