import type { StreamEvent } from '@parley/api-types';
import { TurnEventIds, type Position } from '../generation/sse-stream.js';
import type { ResumableSink } from '../generation/turn-sink.js';
import type { RealtimeConnection } from './realtime-connection.js';

/**
 * A turn sent over the socket: its stream events as `turn` frames for the frame that asked
 * (`ref`), with the same ids as the HTTP stream's, so a repeat of the `send` with
 * `lastEventId` resumes after one. The socket closing is not a stop, as for HTTP.
 */
export class SocketTurnSink implements ResumableSink {
  readonly streaming = true;
  private readonly ids: TurnEventIds;

  constructor(
    private readonly connection: RealtimeConnection,
    private readonly ref: string,
    from: Position,
  ) {
    this.ids = new TurnEventIds(from);
  }

  get offset(): number {
    return this.ids.offset;
  }

  get toolEvents(): number {
    return this.ids.toolEvents;
  }

  send(event: StreamEvent): void {
    const id = this.ids.next(event);
    if (id !== null) this.connection.send({ type: 'turn', ref: this.ref, id, event });
  }

  end(): void {}

  onDisconnect(listener: () => void): void {
    this.connection.onClose(listener);
  }
}
