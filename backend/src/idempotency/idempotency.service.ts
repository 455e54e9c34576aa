import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import type { IdempotencyState } from './idempotency-record.entity.js';
import { parseIdempotencyKey } from './idempotency-key.js';
import { requestFingerprint } from './request-fingerprint.js';
import { every } from '../lifecycle/every.js';

export type IdempotencyBegin =
  // First time (or the key was free again): proceed, then complete() or abandon().
  | { kind: 'started'; recordId: string }
  // Same key and same request, finished before: serve this instead of running again.
  | { kind: 'replay'; status: number; body: unknown; messageId: string | null }
  // Same key and same request, whose reply exists but whose outcome was not recorded (still
  // running, or its process died): the reply's own state is the outcome; never run again.
  | { kind: 'attached'; recordId: string; messageId: string };

export interface BeginOptions {
  /** An in-flight claim older than this belongs to a process that died and may be taken over. */
  staleInFlightMs?: number;
}

interface RecordRow {
  id: string;
  fingerprint: string;
  state: IdempotencyState;
  response_status: number | null;
  response_body: unknown;
  message_id: string | null;
  expired: boolean;
  stale: boolean;
}

// No turn outlives its deadline; the margin covers clock skew and the final commit.
const STALE_MARGIN_MS = 10_000;
const PURGE_EVERY_MS = 10 * 60_000;
// Purge in bounded batches so one sweep never holds many row locks or a long transaction.
const PURGE_BATCH = 1000;
// Each round is one claim attempt; a row can only move on (deleted, taken over, completed)
// between rounds, so a few are plenty and contention beyond them is reported as in flight.
const MAX_ROUNDS = 3;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Idempotency-Key bookkeeping (IETF draft): one row per (user, key) holding the request's
 * fingerprint and, once finished, the outcome to replay. Every step is a single autocommit
 * statement whose WHERE clause re-checks the state it expects, so instances sharing the database
 * (and PgBouncer in transaction mode) need no locks or session state to agree on one winner.
 */
@Injectable()
export class IdempotencyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private stop: (() => void) | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.purgeQuietly();
    this.stop = every(PURGE_EVERY_MS, () => this.purgeQuietly());
  }

  onApplicationShutdown(): void {
    this.stop?.();
  }

  parseKey(header: string | string[] | undefined): string | undefined {
    return parseIdempotencyKey(header);
  }

  fingerprint(operationId: string, params: Record<string, string>, body: unknown): string {
    return requestFingerprint(operationId, params, body);
  }

  async begin(userId: string, key: string, fingerprint: string, options: BeginOptions = {}): Promise<IdempotencyBegin> {
    const ttlSeconds = this.config.trust.idempotencyTtlSeconds;
    const staleSeconds = (options.staleInFlightMs ?? this.config.resilience.turnTimeoutMs + STALE_MARGIN_MS) / 1000;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // The common case, a new key, costs this one statement.
      const [inserted] = await this.run<{ id: string }>(
        `INSERT INTO idempotency_records (user_id, key, fingerprint, state, expires_at)
         VALUES ($1, $2, $3, 'in_flight', now() + make_interval(secs => $4))
         ON CONFLICT (user_id, key) DO NOTHING
         RETURNING id`,
        [userId, key, fingerprint, ttlSeconds],
      );
      if (inserted) return { kind: 'started', recordId: inserted.id };

      const [row] = await this.run<RecordRow>(
        `SELECT id, fingerprint, state, response_status, response_body, message_id,
                expires_at <= now() AS expired,
                state = 'in_flight' AND created_at <= now() - make_interval(secs => $3) AS stale
         FROM idempotency_records WHERE user_id = $1 AND key = $2`,
        [userId, key, staleSeconds],
      );
      if (!row) continue; // abandoned or purged since the insert: claim it again
      // An expired key is forgotten, whatever request it belonged to.
      if (!row.expired && row.fingerprint !== fingerprint) throw new AppError('idempotency_key_reused');
      if (!row.expired && row.state === 'completed') {
        if (row.response_status === null) throw new Error(`idempotency record ${row.id} completed without a status`);
        return { kind: 'replay', status: row.response_status, body: row.response_body, messageId: row.message_id };
      }
      if (!row.expired && row.message_id !== null)
        return { kind: 'attached', recordId: row.id, messageId: row.message_id };
      if (!row.expired && !row.stale) throw new AppError('idempotency_key_in_flight', { retryAfterSeconds: 1 });

      const taken = await this.takeOver(row.id, fingerprint, ttlSeconds, staleSeconds);
      if (taken) return { kind: 'started', recordId: taken };
      // Someone else took it over, completed or removed it in between: look again.
    }
    throw new AppError('idempotency_key_in_flight', { retryAfterSeconds: 1 });
  }

  async complete(recordId: string, status: number, body: unknown): Promise<void> {
    // The replay window runs from the outcome, not from the start of the request.
    const updated = await this.run<{ id: string }>(
      `UPDATE idempotency_records
       SET state = 'completed', response_status = $2, response_body = $3::jsonb,
           expires_at = now() + make_interval(secs => $4)
       WHERE id = $1 AND state = 'in_flight'
       RETURNING id`,
      [recordId, status, storableJson(body), this.config.trust.idempotencyTtlSeconds],
    );
    // The claim was taken over (this process was presumed dead) or purged: the newer claim wins.
    if (updated.length === 0) this.logger.warn({ event: 'idempotency_claim_lost', recordId });
  }

  /**
   * An action that generates nothing (select, delete, fork), once per key: a repeat answers the
   * first outcome. `work` gets a `seal` to record the outcome inside the action's own
   * transaction, so the change and its record commit together; a failure gives the key back
   * (nothing was changed, so a repeat may try again).
   */
  async once<T>(
    userId: string,
    header: string | string[] | undefined,
    fingerprint: string,
    status: number,
    work: (seal: (manager: EntityManager, body: T) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const key = this.parseKey(header);
    if (key === undefined) return work(async () => undefined);
    const claim = await this.begin(userId, key, fingerprint);
    if (claim.kind === 'replay') {
      if (claim.status >= 400) throw new Error(`idempotency record replays a failure (${claim.status}) of an action`);
      return claim.body as T;
    }
    if (claim.kind === 'attached') throw new AppError('idempotency_key_in_flight', { retryAfterSeconds: 1 });
    try {
      return await work(async (manager, body) => {
        await rowsOf(
          manager,
          `UPDATE idempotency_records
           SET state = 'completed', response_status = $2, response_body = $3::jsonb,
               expires_at = now() + make_interval(secs => $4)
           WHERE id = $1 AND state = 'in_flight'`,
          [claim.recordId, status, storableJson(body), this.config.trust.idempotencyTtlSeconds],
        );
      });
    } catch (error) {
      await this.abandon(claim.recordId).catch((e: unknown) =>
        this.logger.warn({ event: 'idempotency_abandon_failed', error: (e as Error).message }),
      );
      throw error;
    }
  }

  /** Gives the key back after a request that stored nothing (a record that names a reply stays). */
  async abandon(recordId: string): Promise<void> {
    await this.run(`DELETE FROM idempotency_records WHERE id = $1 AND state = 'in_flight' AND message_id IS NULL`, [
      recordId,
    ]);
  }

  async purgeExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      // SKIP LOCKED: instances sweeping at once split the rows instead of queueing on each other.
      const deleted = await this.run<{ id: string }>(
        `DELETE FROM idempotency_records WHERE id IN (
           SELECT id FROM idempotency_records WHERE expires_at <= now()
           LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [PURGE_BATCH],
      );
      total += deleted.length;
      if (deleted.length < PURGE_BATCH) return total;
    }
  }

  /**
   * Re-claims an expired record, or an in-flight one whose holder died before storing a reply
   * (one that stored a reply is never taken over: that would generate twice). A fresh id fences
   * off the previous holder: should it be alive after all, its complete()/abandon() match nothing.
   */
  private async takeOver(
    recordId: string,
    fingerprint: string,
    ttlSeconds: number,
    staleSeconds: number,
  ): Promise<string | undefined> {
    const [taken] = await this.run<{ id: string }>(
      `UPDATE idempotency_records
       SET id = gen_random_uuid(), fingerprint = $2, state = 'in_flight', response_status = NULL,
           response_body = NULL, message_id = NULL, created_at = now(),
           expires_at = now() + make_interval(secs => $3)
       WHERE id = $1 AND (expires_at <= now()
         OR (state = 'in_flight' AND message_id IS NULL AND fingerprint = $2
             AND created_at <= now() - make_interval(secs => $4)))
       RETURNING id`,
      [recordId, fingerprint, ttlSeconds, staleSeconds],
    );
    return taken?.id;
  }

  private async purgeQuietly(): Promise<void> {
    try {
      const count = await this.purgeExpired();
      if (count > 0) this.logger.log({ event: 'idempotency_records_purged', count });
    } catch (error) {
      this.logger.warn({ event: 'idempotency_purge_failed', error: (error as Error).message });
    }
  }

  private run<T>(sql: string, params: unknown[]): Promise<T[]> {
    return rowsOf<T>(this.dataSource, sql, params);
  }
}

// jsonb refuses lone surrogates and NUL, both of which a JSON string may hold; an outcome must
// still be storable, so they become U+FFFD as they would in a text column.
function storableJson(body: unknown): string {
  return JSON.stringify(body ?? null, (_name, value: unknown) =>
    typeof value === 'string' ? value.replace(LONE_SURROGATE, '\uFFFD').replace(/\0/g, '\uFFFD') : value,
  );
}
