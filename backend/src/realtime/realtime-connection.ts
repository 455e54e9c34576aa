import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ServerFrame } from '@parley/api-types';
import type { CloseCodeName, RealtimeContract } from '../contract/realtime-contract.js';
import type { NumberedEvent } from './event-draft.js';
import type { EventStore } from './event-store.js';

// How long a gap in the numbers may wait for its event to arrive by the bus before it is read
// from the store (notices from different instances may cross).
const GAP_GRACE_MS = 50;
const PAGE = 500;
// Out-of-order events a socket may hold while it waits or reads; past it the client resyncs.
const MAX_HELD = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

type Reads = Pick<EventStore, 'range' | 'runningReplyEvents'>;

/**
 * One socket of one user: its state (waiting for `hello`, then ready), its subscriptions, and
 * the ordered delivery of the user's events. Events arrive by the bus in any order and
 * possibly with gaps; the socket delivers them by their numbers, each once, reading what is
 * missing from the store. Work that must see a stable position (a replay, a subscription's
 * catch-up) runs one at a time while live events wait.
 */
export class RealtimeConnection {
  /** Names the socket's slot in the user's shared connection count. */
  readonly id = randomUUID();
  userId: string | undefined;
  /** The version the socket's token was issued at: each turn it starts checks it again. */
  tokenVersion: number | undefined;
  language: string | undefined;
  alive = true;
  readonly subscriptions = new Set<string>();
  /** The highest number handled (delivered or not relevant); -1 until the socket is ready. */
  private cursor = -1;
  private readonly held = new Map<number, NumberedEvent>();
  private busy = 0;
  private tasks: Promise<void> = Promise.resolve();
  private gapTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly closeListeners: Array<() => void> = [];
  private closed = false;
  private subscribeTokens: number;
  private subscribeRefilledAt = Date.now();

  constructor(
    readonly socket: WebSocket,
    private readonly contract: RealtimeContract,
    private readonly reads: Reads,
    private readonly onFailure: (error: unknown) => void,
  ) {
    this.subscribeTokens = contract.limits.subscribeBurst;
    socket.on('pong', () => (this.alive = true));
    socket.once('close', () => this.ended());
  }

  get ready(): boolean {
    return this.cursor >= 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a frame; past the buffer bound the client is too slow and is told to resync. */
  send(frame: ServerFrame): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify(frame));
    if (this.socket.bufferedAmount > this.contract.limits.maxBufferedBytes) this.close('resync');
  }

  close(name: CloseCodeName): void {
    if (this.closed) return;
    this.socket.close(this.contract.closeCode(name), name);
    this.ended();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Runs `task` after `ms`, unless the socket closed meanwhile. */
  after(ms: number, task: () => void): void {
    const timer = setTimeout(
      () => {
        if (!this.closed) task();
      },
      Math.min(Math.max(ms, 0), MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.push(timer);
  }

  /** A heartbeat: a socket that did not answer the previous ping is gone. */
  heartbeat(): void {
    if (this.closed) return;
    if (!this.alive) {
      this.socket.terminate();
      this.ended();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /** Whether a subscribe may go now (a token bucket); else the seconds until it may. */
  takeSubscribe(): number {
    const { subscribeBurst, subscribesPerSecond } = this.contract.limits;
    const now = Date.now();
    this.subscribeTokens = Math.min(
      subscribeBurst,
      this.subscribeTokens + ((now - this.subscribeRefilledAt) / 1000) * subscribesPerSecond,
    );
    this.subscribeRefilledAt = now;
    if (this.subscribeTokens >= 1) {
      this.subscribeTokens -= 1;
      return 0;
    }
    return (1 - this.subscribeTokens) / subscribesPerSecond;
  }

  /**
   * Ready: events after `from` are delivered, starting with those up to `head` read from the
   * store (what a reconnecting client missed).
   */
  start(from: number, head: number): void {
    this.cursor = from;
    for (const seq of this.held.keys()) if (seq <= from) this.held.delete(seq);
    if (head > from) this.fill(head);
    else this.drain();
  }

  /** An event of the user, from the bus or a read. */
  offer(event: NumberedEvent): void {
    if (this.closed || (this.ready && event.seq <= this.cursor)) return;
    this.held.set(event.seq, event);
    if (this.held.size > MAX_HELD) return this.close('resync');
    if (this.ready) this.drain();
  }

  /** The user's latest number (reconciliation): anything before it not yet seen is read. */
  catchUp(head: number): void {
    if (this.ready && head > this.cursor && this.busy === 0) this.fill(head);
  }

  /** Runs `task` while live events wait, then delivers what arrived meanwhile. */
  exclusive(task: (cursor: number) => Promise<void>): Promise<void> {
    const run = async () => {
      this.busy++;
      try {
        if (!this.closed) await task(this.cursor);
      } catch (error) {
        this.onFailure(error);
      } finally {
        this.busy--;
        this.drain();
      }
    };
    this.tasks = this.tasks.then(run);
    return this.tasks;
  }

  /** The text so far and the tool calls of a subscribed chat's running replies, from the store. */
  replayRunningReplies(chatId: string): Promise<void> {
    return this.exclusive(async (cursor) => {
      for (const event of await this.reads.runningReplyEvents(this.userId!, chatId, cursor)) this.send(event);
    });
  }

  private drain(): void {
    if (!this.ready || this.busy > 0 || this.closed) return;
    for (let next = this.held.get(this.cursor + 1); next; next = this.held.get(this.cursor + 1)) {
      this.held.delete(next.seq);
      this.cursor = next.seq;
      this.deliver(next);
    }
    if (this.held.size > 0 && !this.gapTimer) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = undefined;
        if (this.held.size === 0 || this.closed) return;
        // Every number below one that was announced is committed: read up to it.
        this.fill(Math.min(...this.held.keys()) - 1);
      }, GAP_GRACE_MS);
      this.gapTimer.unref();
    }
  }

  // Reads the events after the cursor up to `upTo` from the store. Numbers missing there are the
  // deltas of finished replies, pruned early (their final message carries the text): skipped.
  private fill(upTo: number): void {
    void this.exclusive(async () => {
      while (this.cursor < upTo && !this.closed) {
        const events = await this.reads.range(this.userId!, this.cursor, upTo, PAGE);
        for (const event of events) {
          if (event.seq <= this.cursor) continue;
          this.cursor = event.seq;
          this.deliver(event);
        }
        if (events.length < PAGE) this.cursor = Math.max(this.cursor, upTo);
      }
      for (const seq of this.held.keys()) if (seq <= this.cursor) this.held.delete(seq);
    });
  }

  private deliver(event: NumberedEvent): void {
    if (isReplyEvent(event) && !this.subscriptions.has(event.chatId)) return;
    if (event.type === 'chat.deleted') this.subscriptions.delete(event.chatId);
    this.send(event);
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.gapTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.held.clear();
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

/** A reply's own events (its text, its tool calls): for the sockets subscribed to its chat only. */
function isReplyEvent(
  event: NumberedEvent,
): event is Extract<NumberedEvent, { type: 'reply.delta' | 'reply.tool_call' | 'reply.tool_result' }> {
  return event.type === 'reply.delta' || event.type === 'reply.tool_call' || event.type === 'reply.tool_result';
}
