import { Global, Module, type OnApplicationBootstrap, type OnApplicationShutdown, Logger } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { every } from '../lifecycle/every.js';
import { PostgresSharedState } from './postgres-shared-state.js';
import { RedisSharedState } from './redis-shared-state.js';
import { SharedState } from './shared-state.js';

const PURGE_EVERY_MS = 5 * 60_000;

/** The store the configuration names: Redis when REDIS_URL is set, PostgreSQL otherwise. */
export function sharedStateFor(config: AppConfig, dataSource: DataSource): SharedState {
  return config.realtime.redisUrl
    ? new RedisSharedState(config.realtime.redisUrl)
    : new PostgresSharedState(dataSource);
}

class SharedStateLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SharedState');
  private stop: (() => void) | undefined;

  constructor(private readonly state: SharedState) {}

  onApplicationBootstrap(): void {
    this.logger.log({ event: 'shared_state_store', store: this.state.name });
    this.stop = every(PURGE_EVERY_MS, () =>
      this.state
        .purge()
        .catch((error: unknown) => this.logger.warn({ event: 'shared_state_purge_failed' }, String(error))),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop?.();
    await this.state.close();
  }
}

/** Quotas and breakers every instance sees alike (DESIGN §10, shared state). */
@Global()
@Module({
  providers: [
    { provide: SharedState, inject: [AppConfig, getDataSourceToken()], useFactory: sharedStateFor },
    {
      provide: SharedStateLifecycle,
      inject: [SharedState],
      useFactory: (s: SharedState) => new SharedStateLifecycle(s),
    },
  ],
  exports: [SharedState],
})
export class SharedStateModule {}
