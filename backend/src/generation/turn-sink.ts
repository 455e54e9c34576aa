import type { StreamEvent } from '@parley/api-types';

/**
 * Where a turn's events go (the publish side of the pipeline): a server-sent event stream, or
 * nowhere for the JSON form, whose outcome is the return value. A sink never throws: a client
 * that went away is not an error, its events are dropped and the turn goes on.
 */
export interface TurnSink {
  /** Whether the client reads text as it arrives (the provider is then asked to stream). */
  readonly streaming: boolean;
  /** One event of the turn, in order. */
  send(event: StreamEvent): void;
  /** No more events. */
  end(): void;
  /** Runs once if the client goes away before the end (a disconnect is not a stop). */
  onDisconnect(listener: () => void): void;
}

/**
 * A sink a reply can be followed on from where its client left off (a repeated streaming
 * request, `followMessage`): it counts the reply's text it has delivered.
 */
export interface ResumableSink extends TurnSink {
  /** Characters of the reply's text delivered. */
  readonly offset: number;
  /** `tool_call` and `tool_result` events delivered. */
  readonly toolEvents: number;
}

/** The JSON form's sink: the events are not sent anywhere; the outcome is the response. */
export class ResponseOnlySink implements TurnSink {
  readonly streaming = false;

  constructor(
    private readonly connection: { once(event: 'close', listener: () => void): unknown; writableFinished: boolean },
  ) {}

  send(): void {}

  end(): void {}

  onDisconnect(listener: () => void): void {
    this.connection.once('close', () => {
      if (!this.connection.writableFinished) listener();
    });
  }
}
