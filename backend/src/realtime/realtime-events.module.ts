import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { detectPooler } from '../database/pooler.js';
import { EventBus } from './event-bus.js';
import { EventStore } from './event-store.js';
import { PostgresEventBus } from './postgres-event-bus.js';
import { RealtimeEvents } from './realtime-events.js';
import { RedisEventBus } from './redis-event-bus.js';
import { RealtimeMetrics } from './realtime.metrics.js';

/** The bus the configuration names: Redis when `REDIS_URL` is set, PostgreSQL otherwise. */
export function eventBusFor(config: AppConfig): EventBus {
  if (config.realtime.redisUrl) return new RedisEventBus(config.realtime.redisUrl);
  const { url, directUrl, pooler } = config.database;
  if (!url) throw new Error('the database URL is resolved before the application module starts');
  if (!directUrl && detectPooler(url, pooler).mode === 'transaction') {
    throw new Error(
      'realtime fan-out over PostgreSQL needs a session for LISTEN, which a transaction-mode pooler does not give: set DATABASE_DIRECT_URL (or REDIS_URL)',
    );
  }
  return new PostgresEventBus(directUrl ?? url);
}

/**
 * The user's events: numbered, stored and announced across instances. Global: chats and the
 * turn publish into it; the realtime gateway reads from it.
 */
@Global()
@Module({
  providers: [
    EventStore,
    RealtimeEvents,
    RealtimeMetrics,
    { provide: EventBus, inject: [AppConfig], useFactory: eventBusFor },
  ],
  exports: [EventStore, RealtimeEvents, RealtimeMetrics, EventBus],
})
export class RealtimeEventsModule {}
