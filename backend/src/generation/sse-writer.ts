import type { Response } from 'express';
import type { StreamEventName } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { every } from '../lifecycle/every.js';

const KEEP_ALIVE_MS = 15_000;

/**
 * Event ids are `<reply id>:<characters of text delivered>.<n>`: unique within a reply, and
 * meaningful on any instance — a client re-attaching with one gets the text after that point.
 */
export function resumeOffset(lastEventId: string | undefined, messageId: string): number {
  if (lastEventId === undefined || lastEventId === '') return 0;
  const match = /^([0-9a-f-]{36}):(\d+)\.\d+$/.exec(lastEventId);
  if (!match || match[1] !== messageId) {
    throw new AppError('validation_failed', {
      errors: [
        {
          location: 'header',
          pointer: '/Last-Event-ID',
          message: 'is not an event id of this reply',
          keyword: 'event_id',
        },
      ],
    });
  }
  return Number(match[2]);
}

/**
 * Writes server-sent events. A client that went away is not an error: the turn goes on and
 * commits, writes are simply dropped.
 */
export class SseWriter {
  private counter = 1;
  private delivered: number;
  private readonly stopKeepAlive: () => void;

  constructor(
    private readonly response: Response,
    private readonly messageId: string,
    offset = 0,
  ) {
    this.delivered = offset;
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache, no-transform');
    response.setHeader('Connection', 'keep-alive');
    // Tell buffering proxies to pass events through as they come.
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    this.stopKeepAlive = every(KEEP_ALIVE_MS, () => this.write(': keep-alive\n\n'));
    response.once('close', this.stopKeepAlive);
  }

  get open(): boolean {
    return !this.response.writableEnded && !this.response.destroyed;
  }

  /** Characters of reply text sent so far (where a re-attaching client resumes). */
  get offset(): number {
    return this.delivered;
  }

  send(event: Exclude<StreamEventName, 'delta'>, data: unknown): void {
    this.emit(event, data);
  }

  delta(text: string): void {
    if (text.length === 0) return;
    this.delivered += text.length;
    this.emit('delta', { messageId: this.messageId, text });
  }

  end(): void {
    this.stopKeepAlive();
    if (this.open) this.response.end();
  }

  private emit(event: StreamEventName, data: unknown): void {
    const id = `${this.messageId}:${this.delivered}.${this.counter++}`;
    this.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(chunk: string): void {
    if (this.open) this.response.write(chunk);
  }
}
