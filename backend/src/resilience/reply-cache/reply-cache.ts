import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config.js';
import { rowsOf } from '../../database/sql.js';
import type { ProviderRequest } from '../../providers/provider.port.js';

/** What the key is made of: exactly what a provider is sent, less the signal. */
export type CacheableRequest = Pick<ProviderRequest, 'systemInstruction' | 'messages' | 'model' | 'maxOutputTokens'>;

export interface CachedReply {
  text: string;
  /** The provider and model that produced it. */
  provider: string;
  model: string;
}

/**
 * The cached degraded fallback (PROVIDER_CACHED_FALLBACK, off by default): recent successful
 * replies by the hash of the exact provider request, in PostgreSQL so every instance shares them,
 * the newest PROVIDER_CACHED_FALLBACK_ENTRIES kept. When every provider fails, a turn whose
 * request is identical to one answered before may be given that answer, marked degraded and not
 * charged. Failures of the cache itself never fail a turn: a write is logged and skipped, a read
 * that fails is a miss.
 */
@Injectable()
export class ReplyCache {
  private readonly logger = new Logger(ReplyCache.name);
  private readonly maxEntries: number | undefined;

  constructor(
    config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    this.maxEntries = config.providers.cachedFallback?.entries;
  }

  get enabled(): boolean {
    return this.maxEntries !== undefined;
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

  /** Keeps a successful reply (the newest for its key), then trims the table to its bound; one statement. */
  async remember(key: string, reply: CachedReply): Promise<void> {
    if (this.maxEntries === undefined) return;
    try {
      // The DELETE sees the table as it was before this INSERT: keeping the newest N - 1 of those
      // leaves N rows with the new one.
      await rowsOf(
        this.dataSource,
        `WITH saved AS (
           INSERT INTO provider_reply_cache (key, text, provider, model) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET text = EXCLUDED.text, provider = EXCLUDED.provider,
             model = EXCLUDED.model, created_at = now()
           RETURNING key
         )
         DELETE FROM provider_reply_cache WHERE key NOT IN (SELECT key FROM saved) AND created_at <= (
           SELECT created_at FROM provider_reply_cache ORDER BY created_at DESC OFFSET $5 LIMIT 1
         )`,
        [key, reply.text, reply.provider, reply.model, this.maxEntries - 1],
      );
    } catch (error) {
      this.logger.warn({ event: 'reply_cache_write_failed' }, String(error));
    }
  }

  /** The reply remembered for this key, if any. */
  async recall(key: string): Promise<CachedReply | undefined> {
    if (this.maxEntries === undefined) return undefined;
    try {
      const [row] = await rowsOf<CachedReply>(
        this.dataSource,
        'SELECT text, provider, model FROM provider_reply_cache WHERE key = $1',
        [key],
      );
      return row;
    } catch (error) {
      this.logger.warn({ event: 'reply_cache_read_failed' }, String(error));
      return undefined;
    }
  }
}
