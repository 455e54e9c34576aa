import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { admission } from './postgres-shared-state.js';
import {
  SharedState,
  type BreakerAdmission,
  type BreakerPolicy,
  type QuotaTaken,
  type SlotHolder,
} from './shared-state.js';

const PREFIX = 'parley:';
// Breakers currently open or half-open, scored by when they opened (for openCount and purge).
const OPEN_SET = `${PREFIX}breakers:open`;
// A breaker key outlives its last change by this much (closed and quiet: forgotten).
const BREAKER_TTL_MS = 60 * 60_000;

// Every script reads Redis's own clock, so instances with skewed clocks agree.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS[1] the quota key; ARGV limit, window ms. Returns {allowed, count, reset ms}.
const TAKE_QUOTA = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return {0, count, redis.call('PTTL', KEYS[1])} end
count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, count, redis.call('PTTL', KEYS[1])}`;

// KEYS[1] the breaker hash, KEYS[2] the open set; ARGV probe ttl ms, chat id.
// Returns {failures, open ms or -1 when closed, probe ms, claimed}.
const ADMIT = `${NOW}
local state = redis.call('HMGET', KEYS[1], 'failures', 'openUntil', 'probeUntil')
local failures = tonumber(state[1] or '0')
local openUntil = tonumber(state[2] or '0')
if openUntil == 0 then return {failures, -1, 0, 0} end
if openUntil > now then return {failures, openUntil - now, 0, 0} end
local probeUntil = tonumber(state[3] or '0')
if probeUntil > now then return {failures, 0, probeUntil - now, 0} end
redis.call('HSET', KEYS[1], 'probeUntil', now + tonumber(ARGV[1]))
return {failures, 0, 0, 1}`;

// KEYS[1] the breaker hash, KEYS[2] the open set; ARGV threshold, reset ms, probe (1/0), ttl ms, chat id.
const FAILED = `${NOW}
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') + 1
if ARGV[3] == '1' or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'failures', 0, 'openUntil', now + tonumber(ARGV[2]), 'probeUntil', 0)
  redis.call('ZADD', KEYS[2], now, ARGV[5])
else
  redis.call('HSET', KEYS[1], 'failures', failures)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return failures`;

// KEYS[1] the breaker hash, KEYS[2] the open set; ARGV reset ms, ttl ms, chat id.
const TRIP = `${NOW}
redis.call('HSET', KEYS[1], 'failures', 0, 'openUntil', now + tonumber(ARGV[1]), 'probeUntil', 0)
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

// KEYS[1] the slots (a sorted set of holders by expiry); ARGV holder, limit, ttl ms. Returns 1 when held.
const CLAIM_SLOT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// KEYS the slot sets; ARGV[1] ttl ms, then each key's holder. Only slots still held are renewed.
const RENEW_SLOTS = `${NOW}
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS`;
const RENEW_BATCH = 500;

/**
 * Shared state in Redis (when REDIS_URL is set): each operation is one Lua script, atomic on the
 * server; keys expire by themselves, so nothing grows without bound.
 */
export class RedisSharedState extends SharedState {
  readonly name = 'redis';
  private readonly logger = new Logger('SharedState');
  private readonly redis: Redis;

  constructor(url: string) {
    super();
    this.redis = new Redis(url, { maxRetriesPerRequest: 2, connectionName: 'parley-shared-state' });
    this.redis.on('error', (error: Error) => this.logger.warn({ event: 'shared_state_redis_error' }, error.message));
  }

  async takeQuota(key: string, limit: number, windowMs: number): Promise<QuotaTaken> {
    const [allowed, count, ttl] = (await this.redis.eval(TAKE_QUOTA, 1, `${PREFIX}quota:${key}`, limit, windowMs)) as [
      number,
      number,
      number,
    ];
    return { allowed: allowed === 1, count, resetMs: ttl > 0 ? ttl : windowMs };
  }

  async admit(chatId: string, policy: BreakerPolicy): Promise<BreakerAdmission> {
    const [failures, openMs, probeMs, claimed] = (await this.redis.eval(
      ADMIT,
      2,
      breakerKey(chatId),
      OPEN_SET,
      policy.probeTtlMs,
      chatId,
    )) as [number, number, number, number];
    return admission(
      { failures, open_ms: openMs < 0 ? null : openMs, probe_ms: probeMs, claimed: claimed === 1 },
      policy,
    );
  }

  async succeeded(chatId: string): Promise<void> {
    await this.redis.multi().del(breakerKey(chatId)).zrem(OPEN_SET, chatId).exec();
  }

  async failed(chatId: string, policy: BreakerPolicy, probe: boolean): Promise<void> {
    await this.redis.eval(
      FAILED,
      2,
      breakerKey(chatId),
      OPEN_SET,
      policy.threshold,
      policy.resetMs,
      probe ? 1 : 0,
      ttlOf(policy),
      chatId,
    );
  }

  async trip(chatId: string, policy: BreakerPolicy): Promise<void> {
    await this.redis.eval(TRIP, 2, breakerKey(chatId), OPEN_SET, policy.resetMs, ttlOf(policy), chatId);
  }

  async openCount(): Promise<number> {
    return this.redis.zcard(OPEN_SET);
  }

  async claimSlot(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(CLAIM_SLOT, 1, slotsKey(key), holder, limit, ttlMs)) === 1;
  }

  async renewSlots(slots: SlotHolder[], ttlMs: number): Promise<void> {
    for (let i = 0; i < slots.length; i += RENEW_BATCH) {
      const batch = slots.slice(i, i + RENEW_BATCH);
      await this.redis.eval(
        RENEW_SLOTS,
        batch.length,
        ...batch.map((s) => slotsKey(s.key)),
        ttlMs,
        ...batch.map((s) => s.holder),
      );
    }
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.redis.zrem(slotsKey(key), holder);
  }

  async purge(): Promise<void> {
    // Members whose breaker key has expired (or closed without a success seen here).
    const members = await this.redis.zrange(OPEN_SET, '0', '-1');
    for (const chatId of members) {
      if ((await this.redis.exists(breakerKey(chatId))) === 0) await this.redis.zrem(OPEN_SET, chatId);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

function slotsKey(key: string): string {
  return `${PREFIX}slots:${key}`;
}

function breakerKey(chatId: string): string {
  return `${PREFIX}breaker:${chatId}`;
}

function ttlOf(policy: BreakerPolicy): number {
  return Math.max(BREAKER_TTL_MS, policy.resetMs * 2);
}
