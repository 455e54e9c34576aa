import type { Response } from 'express';
import type { StreamEvent } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { every } from '../lifecycle/every.js';
import type { ResumableSink } from './turn-sink.js';

const KEEP_ALIVE_MS = 15_000;
const EVENT_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(\d{1,9})(?::(\d{1,6}))?\.\d{1,9}$/;

/**
 * Where a client stands in a reply: the characters of its text and the tool events (`tool_call`,
 * `tool_result`) it has had. `tools` is null for an id that does not say (written before tool
 * events were counted): the events before `text` are then taken as had.
 */
export interface ResumePoint {
  text: number;
  tools: number | null;
}

/**
 * Event ids are `<reply id>:<characters of text delivered>.<n>`, with `:<tool events delivered>`
 * after the characters once there were any: unique within a stream, and meaningful on any
 * instance — a client re-attaching with one gets what came after that point. Answers where to
 * resume (the start without a header).
 */
export function resumePoint(lastEventId: string | string[] | undefined, messageId: string): ResumePoint {
  if (lastEventId === undefined) return { text: 0, tools: 0 };
  const match = typeof lastEventId === 'string' ? EVENT_ID.exec(lastEventId) : null;
  // UUIDs are compared as values: the path may spell the reply's id in upper case.
  if (!match || match[1] !== messageId.toLowerCase()) {
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
  return { text: Number(match[2]), tools: match[3] === undefined ? null : Number(match[3]) };
}

/**
 * Numbers a turn's events as one stream delivers them: ids `<reply id>:<characters of text
 * delivered>.<n>` (see `resumeOffset`), the same on every transport, so an id from a socket's
 * `turn` frame resumes an HTTP stream and the reverse. Empty deltas get none (they are not sent).
 */
export class TurnEventIds {
  private counter = 1;
  private delivered: number;
  private tools: number;

  /** `from`: what the client already has (a resumed stream counts on from there). */
  constructor(from: Position = START) {
    this.delivered = from.text;
    this.tools = from.tools;
  }

  /** Characters of reply text delivered so far (where a re-attaching client resumes). */
  get offset(): number {
    return this.delivered;
  }

  /** Tool events delivered so far. */
  get toolEvents(): number {
    return this.tools;
  }

  next(event: StreamEvent): string | null {
    if (event.type === 'delta') {
      if (event.text.length === 0) return null;
      this.delivered += event.text.length;
    }
    if (event.type === 'tool_call' || event.type === 'tool_result') this.tools++;
    const messageId = event.type === 'turn_started' ? event.assistantMessage.id : event.messageId;
    const tools = this.tools > 0 ? `:${this.tools}` : '';
    return `${messageId}:${this.delivered}${tools}.${this.counter++}`;
  }
}

/** A position a stream starts from (a resumed one: where its client stands). */
export type Position = { text: number; tools: number };

/** The start of a reply. */
export const START: Position = { text: 0, tools: 0 };

/**
 * A turn's events as server-sent events on an HTTP response. Nothing is written until the first
 * event, so failures before the turn starts are still ordinary HTTP errors. What is sent in one
 * tick of the event loop is joined and written once, on the next tick (one `write` per tick per
 * response: one chunk through the stream machinery, one packet).
 */
export class SseStream implements ResumableSink {
  readonly streaming = true;
  private readonly ids: TurnEventIds;
  private started = false;
  // Text sent this tick, written on the next; null when nothing waits.
  private pending: string | null = null;
  private stopKeepAlive: () => void = () => undefined;

  /** `from`: what the client already has (a resumed stream counts on from there). */
  constructor(
    private readonly response: Response,
    from: Position = START,
  ) {
    this.ids = new TurnEventIds(from);
  }

  /** Characters of reply text sent so far (where a re-attaching client resumes). */
  get offset(): number {
    return this.ids.offset;
  }

  get toolEvents(): number {
    return this.ids.toolEvents;
  }

  get open(): boolean {
    return !this.response.writableEnded && !this.response.destroyed;
  }

  send(event: StreamEvent): void {
    if (!this.started) this.start();
    const id = this.ids.next(event);
    if (id === null) return;
    this.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  }

  end(): void {
    this.stopKeepAlive();
    if (!this.open) return;
    if (!this.started) this.start();
    this.flush();
    this.response.end();
  }

  onDisconnect(listener: () => void): void {
    this.response.once('close', () => {
      if (!this.response.writableFinished) listener();
    });
  }

  private start(): void {
    this.started = true;
    const response = this.response;
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache, no-transform');
    // Tell buffering proxies to pass events through as they come.
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    this.stopKeepAlive = every(KEEP_ALIVE_MS, () => this.write(': keep-alive\n\n'));
    response.once('close', () => this.stopKeepAlive());
  }

  private write(chunk: string): void {
    if (!this.open) return;
    if (this.pending === null) {
      this.pending = chunk;
      process.nextTick(() => this.flush());
    } else {
      this.pending += chunk;
    }
  }

  private flush(): void {
    const text = this.pending;
    if (text === null) return;
    this.pending = null;
    if (this.open) this.response.write(text);
  }
}
