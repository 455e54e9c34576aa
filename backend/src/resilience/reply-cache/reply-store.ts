import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../../database/sql.js';

export interface CachedReply {
  text: string;
  /** The provider and model that produced it. */
  provider: string;
  model: string;
}

/**
 * Where the cached replies live, the same two ways as shared state (DESIGN §10): PostgreSQL by
 * default, Redis when REDIS_URL is set. Each operation is one statement or one script; both keep
 * the newest `maxEntries` and forget the rest in the same operation that saves.
 */
export abstract class ReplyStore {
  abstract readonly name: 'postgres' | 'redis';
  abstract save(key: string, reply: CachedReply, maxEntries: number): Promise<void>;
  abstract load(key: string): Promise<CachedReply | undefined>;
  async close(): Promise<void> {}
}

export class PostgresReplyStore extends ReplyStore {
  readonly name = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async save(key: string, reply: CachedReply, maxEntries: number): Promise<void> {
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
      [key, reply.text, reply.provider, reply.model, maxEntries - 1],
    );
  }

  async load(key: string): Promise<CachedReply | undefined> {
    const [row] = await rowsOf<CachedReply>(
      this.dataSource,
      'SELECT text, provider, model FROM provider_reply_cache WHERE key = $1',
      [key],
    );
    return row;
  }
}

const REPLIES = 'parley:replies';
const ORDER = 'parley:replies:order';

// KEYS[1] the replies hash, KEYS[2] their order (a sorted set scored by Redis's clock);
// ARGV key, reply JSON, max entries. Saves, then forgets the oldest beyond the bound.
const SAVE = `
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  redis.call('HDEL', KEYS[1], unpack(oldest))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
return excess`;

export class RedisReplyStore extends ReplyStore {
  readonly name = 'redis';
  private readonly logger = new Logger('ReplyCache');
  private readonly redis: Redis;

  constructor(url: string) {
    super();
    this.redis = new Redis(url, { maxRetriesPerRequest: 2, connectionName: 'parley-reply-cache' });
    this.redis.on('error', (error: Error) => this.logger.warn({ event: 'reply_cache_redis_error' }, error.message));
  }

  async save(key: string, reply: CachedReply, maxEntries: number): Promise<void> {
    await this.redis.eval(SAVE, 2, REPLIES, ORDER, key, JSON.stringify(reply), maxEntries);
  }

  async load(key: string): Promise<CachedReply | undefined> {
    const json = await this.redis.hget(REPLIES, key);
    return json === null ? undefined : (JSON.parse(json) as CachedReply);
  }

  override async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
