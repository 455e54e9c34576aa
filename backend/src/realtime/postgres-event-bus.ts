import { Logger } from '@nestjs/common';
import pg from 'pg';
import { EVENTS_CHANNEL, EventBus } from './event-bus.js';

// NOTIFY payloads must be shorter than 8,000 bytes; a little margin for the server's framing.
const MAX_NOTICE_BYTES = 7900;
const RECONNECT_DELAYS_MS = [100, 500, 1000, 2000, 5000];

/**
 * The default bus: NOTIFY inside the transaction that numbers the events (delivered on commit,
 * in commit order, never for a transaction that rolled back) and LISTEN on one dedicated
 * connection per instance. LISTEN needs a session, so that connection is direct: never through
 * a transaction-mode pooler (`DATABASE_DIRECT_URL` when one is in front).
 */
export class PostgresEventBus extends EventBus {
  readonly maxNoticeBytes = MAX_NOTICE_BYTES;
  readonly notifyChannel = EVENTS_CHANNEL;
  readonly name = 'postgres';
  private readonly logger = new Logger('RealtimeBus');
  private client: pg.Client | undefined;
  private closed = false;
  private attempts = 0;

  get listening(): boolean {
    return this.client !== undefined;
  }

  constructor(private readonly url: string) {
    super();
  }

  /** Nothing to do: the statement that numbered the events notified them. */
  async announce(): Promise<void> {}

  async listen(onNotice: (notice: string) => void, onResumed: () => void): Promise<void> {
    await this.connect(onNotice, onResumed, false);
  }

  private async connect(onNotice: (notice: string) => void, onResumed: () => void, resumed: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: 'parley-realtime' });
    // Without a listener a dropped connection would crash the process (FACTS).
    client.on('error', (error) => this.logger.warn({ event: 'realtime_listen_error' }, String(error)));
    client.on('notification', (message) => {
      if (message.channel === EVENTS_CHANNEL && message.payload) onNotice(message.payload);
    });
    client.once('end', () => {
      if (this.closed || this.client !== client) return;
      this.client = undefined;
      this.reconnect(onNotice, onResumed);
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.client = client;
    this.attempts = 0;
    if (resumed) {
      this.logger.log({ event: 'realtime_listen_resumed' });
      onResumed();
    }
  }

  private reconnect(onNotice: (notice: string) => void, onResumed: () => void): void {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempts++, RECONNECT_DELAYS_MS.length - 1)]!;
    const timer = setTimeout(() => {
      if (this.closed) return;
      this.connect(onNotice, onResumed, true).catch((error: unknown) => {
        this.logger.warn({ event: 'realtime_listen_reconnect_failed' }, String(error));
        this.reconnect(onNotice, onResumed);
      });
    }, delay);
    timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
