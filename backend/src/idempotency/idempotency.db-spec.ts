import { jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import { insertReply, insertUser } from '../../test/support/db-rows.js';
import { IdempotencyService } from './idempotency.service.js';
import { attachReplyCte } from './idempotency.sql.js';
import { requestFingerprint } from './request-fingerprint.js';

// The Idempotency-Key records against a real PostgreSQL: every step is one statement whose WHERE
// clause decides the winner, which only the database can show.
const db = useTestDatabase({ IDEMPOTENCY_TTL_SECONDS: '3600', TURN_TIMEOUT_MS: '120000' });

// A request's fingerprint as the routes compute it (the column holds exactly 64 characters).
const fp = (request: string) => requestFingerprint('sendMessage', {}, { request });

describe(IdempotencyService.name, () => {
  let dataSource: DataSource;
  let service: IdempotencyService;
  beforeAll(() => {
    dataSource = db().dataSource;
    service = new IdempotencyService(dataSource, db().config);
  });

  let key = 0;
  const nextKey = () => `key-${++key}`;

  /** Moves a record's expiry (or creation) into the past, as time passing would. */
  async function age(recordKey: string, column: 'expires_at' | 'created_at', seconds: number) {
    await rowsOf(
      dataSource,
      `UPDATE idempotency_records SET ${column} = now() - make_interval(secs => $2) WHERE key = $1`,
      [recordKey, seconds],
    );
  }

  async function recordsOf(userId: string) {
    return rowsOf<{ key: string; state: string; message_id: string | null }>(
      dataSource,
      'SELECT key, state, message_id FROM idempotency_records WHERE user_id = $1 ORDER BY key',
      [userId],
    );
  }

  describe('begin', () => {
    it('starts a new key, then refuses the same request while it is in flight', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      expect(await service.begin(user, k, fp('fp'))).toEqual({ kind: 'started', recordId: expect.any(String) });
      await expect(service.begin(user, k, fp('fp'))).rejects.toMatchObject({
        code: 'idempotency_key_in_flight',
        details: { retryAfterSeconds: 1 },
      });
    });

    it('refuses the key with another request, in flight or completed', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      await expect(service.begin(user, k, fp('other'))).rejects.toMatchObject({ code: 'idempotency_key_reused' });
      if (started.kind !== 'started') throw new Error('expected a start');
      await service.complete(started.recordId, 201, { ok: true });
      await expect(service.begin(user, k, fp('other'))).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    });

    it('replays a completed request: its status, its body and no reply', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await service.complete(started.recordId, 201, { id: 'abc', n: 1 });
      expect(await service.begin(user, k, fp('fp'))).toEqual({
        kind: 'replay',
        status: 201,
        body: { id: 'abc', n: 1 },
        messageId: null,
      });
    });

    it('scopes keys to the user: another user with the key neither sees nor takes the first one', async () => {
      const first = await insertUser(dataSource);
      const second = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(first, k, fp('fp-first'));
      if (started.kind !== 'started') throw new Error('expected a start');
      expect(await service.begin(second, k, fp('fp-second'))).toMatchObject({ kind: 'started' });
      // Completed after the second user's claim, so a lookup by key alone would meet that claim first.
      await service.complete(started.recordId, 201, { who: 'first' });
      // Back to the first user: their own outcome, not the second user's claim.
      expect(await service.begin(first, k, fp('fp-first'))).toMatchObject({ kind: 'replay', body: { who: 'first' } });
      expect(await recordsOf(second)).toEqual([{ key: k, state: 'in_flight', message_id: null }]);
    });

    it('answers a request whose reply exists but whose outcome is not recorded with that reply', async () => {
      const user = await insertUser(dataSource);
      const message = await insertReply(dataSource, user);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await rowsOf(dataSource, `WITH ${attachReplyCte('$1', '(SELECT $2::uuid)')} SELECT 1`, [
        started.recordId,
        message,
      ]);
      expect(await service.begin(user, k, fp('fp'))).toEqual({
        kind: 'attached',
        recordId: started.recordId,
        messageId: message,
      });
      // Never taken over, however old: that would generate a second reply.
      await age(k, 'created_at', 3600);
      expect(await service.begin(user, k, fp('fp'), { staleInFlightMs: 1000 })).toMatchObject({ kind: 'attached' });
    });

    it('forgets an expired key, whatever request it belonged to', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const first = await service.begin(user, k, fp('fp'));
      if (first.kind !== 'started') throw new Error('expected a start');
      await service.complete(first.recordId, 201, { n: 1 });
      await age(k, 'expires_at', 1);
      const again = await service.begin(user, k, fp('another request'));
      expect(again).toEqual({ kind: 'started', recordId: expect.any(String) });
      expect(again).not.toEqual(first);
      expect(await recordsOf(user)).toEqual([{ key: k, state: 'in_flight', message_id: null }]);
    });

    it('keeps a key that expires later, and a completed one for the whole window from its outcome', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await age(k, 'expires_at', -5);
      await expect(service.begin(user, k, fp('other'))).rejects.toMatchObject({ code: 'idempotency_key_reused' });
      await service.complete(started.recordId, 200, {});
      const [row] = await rowsOf<{ left: number }>(
        dataSource,
        'SELECT extract(epoch FROM expires_at - now())::int AS left FROM idempotency_records WHERE key = $1',
        [k],
      );
      expect(row!.left).toBeGreaterThan(3590);
      expect(row!.left).toBeLessThanOrEqual(3600);
    });

    it('takes over a stale claim of the same request with a fresh id that fences off the old holder', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const old = await service.begin(user, k, fp('fp'));
      if (old.kind !== 'started') throw new Error('expected a start');
      // Not yet stale by the default: the turn deadline (120 s here) and its 10 s margin.
      await age(k, 'created_at', 125);
      await expect(service.begin(user, k, fp('fp'))).rejects.toMatchObject({ code: 'idempotency_key_in_flight' });
      const taken = await service.begin(user, k, fp('fp'), { staleInFlightMs: 30_000 });
      if (taken.kind !== 'started') throw new Error('expected a take-over');
      expect(taken.recordId).not.toBe(old.recordId);
      // The old holder, alive after all, records nothing; the new one does.
      await service.complete(old.recordId, 500, { from: 'old' });
      await service.complete(taken.recordId, 201, { from: 'new' });
      expect(await service.begin(user, k, fp('fp'))).toMatchObject({
        kind: 'replay',
        status: 201,
        body: { from: 'new' },
      });
    });

    it('does not take over a stale claim for another request', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      await service.begin(user, k, fp('fp'));
      await age(k, 'created_at', 60);
      await expect(service.begin(user, k, fp('other'), { staleInFlightMs: 30_000 })).rejects.toMatchObject({
        code: 'idempotency_key_reused',
      });
    });

    it('lets exactly one of concurrent first requests start', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const results = await Promise.allSettled([1, 2, 3].map(() => service.begin(user, k, fp('fp'))));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected'))
        expect(r.reason).toMatchObject({ code: 'idempotency_key_in_flight' });
    });
  });

  describe('complete and abandon', () => {
    it('stores text jsonb refuses as U+FFFD, so the outcome still replays', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await service.complete(started.recordId, 201, { text: 'a\0b\uD800c\uDC00d\uD83D\uDE00' });
      expect(await service.begin(user, k, fp('fp'))).toMatchObject({
        body: { text: 'a\uFFFDb\uFFFDc\uFFFDd\uD83D\uDE00' },
      });
    });

    it('replays an empty outcome as null', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await service.complete(started.recordId, 204, undefined);
      expect(await service.begin(user, k, fp('fp'))).toEqual({
        kind: 'replay',
        status: 204,
        body: null,
        messageId: null,
      });
    });

    it('gives the key back after a request that stored nothing, but keeps one that names a reply', async () => {
      const user = await insertUser(dataSource);
      const [free, linked] = [nextKey(), nextKey()];
      const a = await service.begin(user, free, fp('fp'));
      const b = await service.begin(user, linked, fp('fp'));
      if (a.kind !== 'started' || b.kind !== 'started') throw new Error('expected starts');
      await rowsOf(dataSource, `WITH ${attachReplyCte('$1', '(SELECT $2::uuid)')} SELECT 1`, [
        b.recordId,
        await insertReply(dataSource, user),
      ]);
      await service.abandon(a.recordId);
      await service.abandon(b.recordId);
      expect((await recordsOf(user)).map((r) => r.key)).toEqual([linked]);
      expect(await service.begin(user, free, fp('another request'))).toMatchObject({ kind: 'started' });
    });

    it('attaches a reply to an in-flight record only', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await service.complete(started.recordId, 200, {});
      await rowsOf(dataSource, `WITH ${attachReplyCte('$1', '(SELECT $2::uuid)')} SELECT 1`, [
        started.recordId,
        await insertReply(dataSource, user),
      ]);
      expect(await recordsOf(user)).toEqual([{ key: k, state: 'completed', message_id: null }]);
    });
  });

  describe('once', () => {
    const seal =
      <T>(body: T) =>
      async (record: (m: DataSource['manager'], b: T) => Promise<void>) => {
        await record(dataSource.manager, body);
        return body;
      };

    it('runs the work without a record when there is no key', async () => {
      const user = await insertUser(dataSource);
      expect(await service.once(user, undefined, fp('fp'), 200, seal({ n: 1 }))).toEqual({ n: 1 });
      expect(await recordsOf(user)).toEqual([]);
    });

    it('answers a repeat with the first outcome without running the work again', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      expect(await service.once(user, k, fp('fp'), 200, seal({ n: 1 }))).toEqual({ n: 1 });
      const work = jest.fn(seal({ n: 2 }));
      expect(await service.once(user, k, fp('fp'), 200, work)).toEqual({ n: 1 });
      expect(work).not.toHaveBeenCalled();
    });

    it('gives the key back when the work fails, so a repeat runs it', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      await expect(
        service.once(user, k, fp('fp'), 200, async () => {
          throw new Error('no change made');
        }),
      ).rejects.toThrow('no change made');
      expect(await recordsOf(user)).toEqual([]);
      expect(await service.once(user, k, fp('fp'), 200, seal({ n: 3 }))).toEqual({ n: 3 });
    });

    it('refuses a key whose request is still running or named a reply', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await expect(service.once(user, k, fp('fp'), 200, seal({}))).rejects.toMatchObject({
        code: 'idempotency_key_in_flight',
      });
      await rowsOf(dataSource, `WITH ${attachReplyCte('$1', '(SELECT $2::uuid)')} SELECT 1`, [
        started.recordId,
        await insertReply(dataSource, user),
      ]);
      await expect(service.once(user, k, fp('fp'), 200, seal({}))).rejects.toMatchObject({
        code: 'idempotency_key_in_flight',
        details: { retryAfterSeconds: 1 },
      });
    });

    it('refuses to replay a failure as the outcome of an action (an action records only its success)', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await service.begin(user, k, fp('fp'));
      if (started.kind !== 'started') throw new Error('expected a start');
      await service.complete(started.recordId, 400, {});
      await expect(service.once(user, k, fp('fp'), 200, seal({}))).rejects.toThrow('replays a failure (400)');
    });
  });

  describe('purgeExpired', () => {
    it('deletes the expired records and keeps the others', async () => {
      const user = await insertUser(dataSource);
      const [old, live] = [nextKey(), nextKey()];
      await service.begin(user, old, fp('fp'));
      await service.begin(user, live, fp('fp'));
      await age(old, 'expires_at', 1);
      expect(await service.purgeExpired()).toBeGreaterThanOrEqual(1);
      expect((await recordsOf(user)).map((r) => r.key)).toEqual([live]);
    });

    it('goes on past a full batch until every expired record is gone', async () => {
      const user = await insertUser(dataSource);
      await rowsOf(
        dataSource,
        `INSERT INTO idempotency_records (user_id, key, fingerprint, state, expires_at)
         SELECT $1, 'bulk-' || n, $2, 'in_flight', now() - interval '1 second' FROM generate_series(1, 1001) AS n`,
        [user, fp('fp')],
      );
      expect(await service.purgeExpired()).toBe(1001);
      expect(await recordsOf(user)).toEqual([]);
    });
  });
});
