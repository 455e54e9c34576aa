import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { EVENTS_CHANNEL, EventBus } from './event-bus.js';

/**
 * The bus when `REDIS_URL` is set: PUBLISH after the numbering transaction has committed, and
 * one subscriber connection per instance. Redis pub/sub keeps nothing: a notice published while
 * a subscriber is reconnecting is lost to it, which is why listeners read gaps from the event
 * store and reconcile after a reconnect.
 */
export class RedisEventBus extends EventBus {
  // Redis carries far more; this keeps one notice a modest read for every subscriber.
  readonly maxNoticeBytes = 256 * 1024;
  readonly notifyChannel = null;
  readonly name = 'redis';
  private readonly logger = new Logger('RealtimeBus');
  private readonly publisher: Redis;
  private readonly subscriber: Redis;

  get listening(): boolean {
    return this.subscriber.status === 'ready';
  }

  constructor(url: string) {
    super();
    const options = { maxRetriesPerRequest: 2, connectionName: 'parley-realtime', lazyConnect: true };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (error: Error) => this.logger.warn({ event: 'realtime_redis_error' }, error.message));
    }
  }

  async announce(notices: string[]): Promise<void> {
    if (notices.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const notice of notices) pipeline.publish(EVENTS_CHANNEL, notice);
    await pipeline.exec();
  }

  async listen(onNotice: (notice: string) => void, onResumed: () => void): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === EVENTS_CHANNEL) onNotice(message);
    });
    let ready = false;
    // ioredis subscribes again after a reconnect; what was published meanwhile is gone.
    this.subscriber.on('ready', () => {
      if (ready) onResumed();
    });
    await this.subscriber.subscribe(EVENTS_CHANNEL);
    ready = true;
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}
