/**
 * How the instances hear of each other's events (DESIGN §10, one publisher interface): a notice
 * (see `EventStore`) announced by the instance that numbered the events reaches every
 * instance's listener, its own included. Two adapters: PostgreSQL LISTEN/NOTIFY (the default)
 * and Redis pub/sub (`REDIS_URL`). Delivery is at most once and, across publishers, in no
 * promised order: listeners put events in order by their numbers and read what a notice lost
 * from the event store.
 */
export abstract class EventBus {
  /** The largest notice the transport carries. */
  abstract readonly maxNoticeBytes: number;
  /**
   * The channel the statement that numbers the events notifies itself, the transport delivering
   * on its commit (NOTIFY); null when `announce` runs after the commit.
   */
  abstract readonly notifyChannel: string | null;
  abstract readonly name: 'postgres' | 'redis';
  /** Whether the listener is connected now (false while it reconnects). */
  abstract readonly listening: boolean;
  abstract announce(notices: string[]): Promise<void>;
  /** Starts listening. `onResumed` runs after the listener reconnected (notices may have been lost). */
  abstract listen(onNotice: (notice: string) => void, onResumed: () => void): Promise<void>;
  abstract close(): Promise<void>;
}

export const EVENTS_CHANNEL = 'parley_events';
