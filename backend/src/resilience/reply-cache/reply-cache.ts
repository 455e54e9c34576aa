import { createHash } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config.js';
import type { ProviderRequest } from '../../providers/provider.port.js';
import { PostgresReplyStore, RedisReplyStore, type CachedReply, type ReplyStore } from './reply-store.js';

export type { CachedReply } from './reply-store.js';

/** What the key is made of: exactly what a provider is sent, less the signal. */
export type CacheableRequest = Pick<ProviderRequest, 'systemInstruction' | 'messages' | 'model' | 'maxOutputTokens'>;

/**
 * The cached degraded fallback (PROVIDER_CACHED_FALLBACK, off by default): recent successful
 * replies by the hash of the exact provider request, shared by every instance (PostgreSQL, or
 * Redis with REDIS_URL), the newest PROVIDER_CACHED_FALLBACK_ENTRIES kept. When every provider
 * fails, a turn whose request is identical to one answered before may be given that answer,
 * marked degraded and not charged. Failures of the cache itself never fail a turn: a write is
 * logged and skipped, a read that fails is a miss.
 */
@Injectable()
export class ReplyCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReplyCache.name);
  private readonly maxEntries: number | undefined;
  private readonly store: ReplyStore | undefined;

  constructor(config: AppConfig, @InjectDataSource() dataSource: DataSource) {
    this.maxEntries = config.providers.cachedFallback?.entries;
    if (this.maxEntries === undefined) return;
    const redisUrl = config.realtime.redisUrl;
    this.store = redisUrl ? new RedisReplyStore(redisUrl) : new PostgresReplyStore(dataSource);
  }

  get enabled(): boolean {
    return this.maxEntries !== undefined;
  }

  onApplicationBootstrap(): void {
    if (this.store) this.logger.log({ event: 'reply_cache', store: this.store.name, entries: this.maxEntries });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store?.close();
  }

  /** The key of a request: SHA-256 over its parts in a fixed order (JSON, so no part can run into the next). */
  keyOf(request: CacheableRequest): string {
    const parts = [
      request.systemInstruction,
      request.messages.map((m) => [m.role, m.content]),
      request.model ?? null,
      request.maxOutputTokens ?? null,
    ];
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /** Keeps a successful reply (the newest for its key) and forgets the oldest beyond the bound. */
  async remember(key: string, reply: CachedReply): Promise<void> {
    if (!this.store || this.maxEntries === undefined) return;
    try {
      await this.store.save(key, reply, this.maxEntries);
    } catch (error) {
      this.logger.warn({ event: 'reply_cache_write_failed', store: this.store.name }, String(error));
    }
  }

  /** The reply remembered for this key, if any. */
  async recall(key: string): Promise<CachedReply | undefined> {
    if (!this.store) return undefined;
    try {
      return await this.store.load(key);
    } catch (error) {
      this.logger.warn({ event: 'reply_cache_read_failed', store: this.store.name }, String(error));
      return undefined;
    }
  }
}
