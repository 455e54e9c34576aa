import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { callStatement, type StatementFunction } from '../database/statement-function.js';
import {
  SharedState,
  type BreakerAdmission,
  type BreakerPolicy,
  type QuotaTaken,
  type SlotHolder,
} from './shared-state.js';

// A breaker row closed (no failures, not open) for this long is dropped by purge().
const FORGET_CLOSED_AFTER = '1 hour';

interface BreakerRow {
  failures: number;
  open_ms: number | null;
  probe_ms: number | null;
  claimed: boolean;
}

/**
 * A chat's breaker as it stands ($1), claiming a half-open breaker's probe for $2 seconds (the
 * first instance to update the row gets it); no row: closed, no failures. Once per turn, so kept
 * in the database as a function (migration HotStatements).
 */
export const BREAKER_ADMIT: StatementFunction = {
  name: 'breaker_admit',
  params: ['uuid', 'double precision'],
  ctes: `claimed AS (
    UPDATE chat_breaker_states SET probe_until = now() + make_interval(secs => $2)
    WHERE chat_id = $1 AND open_until <= now() AND (probe_until IS NULL OR probe_until <= now())
    RETURNING chat_id
  )`,
  select: `SELECT s.failures,
    ceil(extract(epoch FROM s.open_until - now()) * 1000)::int AS open_ms,
    ceil(extract(epoch FROM s.probe_until - now()) * 1000)::int AS probe_ms,
    EXISTS (SELECT 1 FROM claimed) AS claimed
  FROM chat_breaker_states s WHERE s.chat_id = $1`,
};

/**
 * Shared state in PostgreSQL (the default; works with the embedded server and through PgBouncer
 * in transaction mode): each operation is one autocommit statement whose conditions decide the
 * outcome atomically, with the database's clock.
 */
export class PostgresSharedState extends SharedState {
  readonly name = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async takeQuota(key: string, limit: number, windowMs: number): Promise<QuotaTaken> {
    // A new window starts with the first request after the last one ended; within a window a
    // request is counted only while the count is under the limit.
    const [taken] = await this.run<{ hits: number; reset_ms: number }>(
      `INSERT INTO rate_limit_windows AS w (key, hits, window_ends_at)
       VALUES ($1, 1, now() + make_interval(secs => $3))
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN w.window_ends_at <= now() THEN 1 ELSE w.hits + 1 END,
         window_ends_at = CASE WHEN w.window_ends_at <= now() THEN EXCLUDED.window_ends_at ELSE w.window_ends_at END
       WHERE w.window_ends_at <= now() OR w.hits < $2
       RETURNING hits, ceil(extract(epoch FROM window_ends_at - now()) * 1000)::int AS reset_ms`,
      [key, limit, windowMs / 1000],
    );
    if (taken) return { allowed: true, count: taken.hits, resetMs: Math.max(0, taken.reset_ms) };
    const [current] = await this.run<{ hits: number; reset_ms: number }>(
      `SELECT hits, ceil(extract(epoch FROM window_ends_at - now()) * 1000)::int AS reset_ms
       FROM rate_limit_windows WHERE key = $1`,
      [key],
    );
    return { allowed: false, count: current?.hits ?? limit, resetMs: Math.max(0, current?.reset_ms ?? windowMs) };
  }

  async admit(chatId: string, policy: BreakerPolicy): Promise<BreakerAdmission> {
    const [row] = await callStatement<BreakerRow>(this.dataSource, BREAKER_ADMIT, [chatId, policy.probeTtlMs / 1000]);
    return admission(row, policy);
  }

  async succeeded(chatId: string): Promise<void> {
    await this.run(`DELETE FROM chat_breaker_states WHERE chat_id = $1`, [chatId]);
  }

  async failed(chatId: string, policy: BreakerPolicy, probe: boolean): Promise<void> {
    // Opens at the threshold (or at once after a failed probe), and starts counting afresh.
    await this.run(
      `INSERT INTO chat_breaker_states AS s (chat_id, failures, open_until)
       SELECT $1, CASE WHEN $4 OR 1 >= $2 THEN 0 ELSE 1 END,
              CASE WHEN $4 OR 1 >= $2 THEN now() + make_interval(secs => $3) END
       WHERE EXISTS (SELECT 1 FROM chats WHERE id = $1)
       ON CONFLICT (chat_id) DO UPDATE SET
         failures = CASE WHEN $4 OR s.failures + 1 >= $2 THEN 0 ELSE s.failures + 1 END,
         open_until = CASE WHEN $4 OR s.failures + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE s.open_until END,
         probe_until = NULL, updated_at = now()`,
      [chatId, policy.threshold, policy.resetMs / 1000, probe],
    );
  }

  async trip(chatId: string, policy: BreakerPolicy): Promise<void> {
    await this.run(
      `INSERT INTO chat_breaker_states AS s (chat_id, failures, open_until)
       SELECT $1, 0, now() + make_interval(secs => $2) WHERE EXISTS (SELECT 1 FROM chats WHERE id = $1)
       ON CONFLICT (chat_id) DO UPDATE SET failures = 0, open_until = EXCLUDED.open_until, probe_until = NULL,
         updated_at = now()`,
      [chatId, policy.resetMs / 1000],
    );
  }

  async openCount(): Promise<number> {
    const [row] = await this.run<{ count: number }>(
      `SELECT count(*)::int AS count FROM chat_breaker_states WHERE open_until IS NOT NULL`,
      [],
    );
    return row?.count ?? 0;
  }

  async claimSlot(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    // The key's claims queue on an advisory lock, so two claims never both take the last slot.
    return this.dataSource.transaction(async (manager) => {
      await rowsOf(manager, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`slots:${key}`]);
      const claimed = await rowsOf(
        manager,
        `INSERT INTO shared_slots (key, holder, expires_at)
         SELECT $1::varchar, $2::varchar, now() + make_interval(secs => $4::float8)
         WHERE (SELECT count(*) FROM shared_slots WHERE key = $1 AND holder <> $2 AND expires_at > now()) < $3::int
         ON CONFLICT (key, holder) DO UPDATE SET expires_at = EXCLUDED.expires_at
         RETURNING holder`,
        [key, holder, limit, ttlMs / 1000],
      );
      return claimed.length === 1;
    });
  }

  async renewSlots(slots: SlotHolder[], ttlMs: number): Promise<void> {
    if (slots.length === 0) return;
    await this.run(
      `UPDATE shared_slots s SET expires_at = now() + make_interval(secs => $3)
       FROM unnest($1::varchar[], $2::varchar[]) AS r(key, holder)
       WHERE s.key = r.key AND s.holder = r.holder`,
      [slots.map((s) => s.key), slots.map((s) => s.holder), ttlMs / 1000],
    );
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.run('DELETE FROM shared_slots WHERE key = $1 AND holder = $2', [key, holder]);
  }

  async purge(): Promise<void> {
    await this.run(`DELETE FROM shared_slots WHERE expires_at < now()`, []);
    await this.run(`DELETE FROM rate_limit_windows WHERE window_ends_at < now() - interval '1 minute'`, []);
    await this.run(
      `DELETE FROM chat_breaker_states WHERE open_until IS NULL AND updated_at < now() - interval '${FORGET_CLOSED_AFTER}'`,
      [],
    );
  }

  async close(): Promise<void> {}

  private run<T>(sql: string, params: unknown[]): Promise<T[]> {
    return rowsOf<T>(this.dataSource, sql, params);
  }
}

/** A breaker's admission from its stored state (either store): times are milliseconds from now. */
export function admission(
  row: { failures: number; open_ms: number | null; probe_ms: number | null; claimed: boolean } | undefined,
  policy: BreakerPolicy,
): BreakerAdmission {
  if (!row || row.open_ms === null) return { kind: 'closed', failures: row?.failures ?? 0 };
  if (row.open_ms > 0) return { kind: 'open', retryAfterMs: row.open_ms };
  if (row.claimed) return { kind: 'probe' };
  return { kind: 'probing', retryAfterMs: Math.max(1, Math.min(row.probe_ms ?? 1000, policy.probeTtlMs)) };
}
