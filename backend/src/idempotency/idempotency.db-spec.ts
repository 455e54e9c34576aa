import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { poolOf, rowsOf } from '../database/sql.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import { insertReply, insertUser } from '../../test/support/db-rows.js';
import { IdempotencyService, type IdempotencyBegin } from './idempotency.service.js';
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

  /**
   * Runs `step` just before each of the next `times` statements matching `sql`, as another
   * request would between two of the service's statements: the race, made to happen.
   */
  function beforeStatement(sql: RegExp, step: () => Promise<unknown>, times = 1): void {
    // The service's statements run on the pool (rowsOf outside a transaction).
    const pool = poolOf(dataSource);
    const query = pool.query.bind(pool) as (text: string, params?: unknown[]) => Promise<unknown>;
    let left = times;
    jest.spyOn(pool, 'query').mockImplementation((async (text: string, params?: unknown[]) => {
      if (left > 0 && sql.test(text)) {
        left--;
        await step();
      }
      return query(text, params);
    }) as never);
  }
  afterEach(() => jest.restoreAllMocks());

  /** A begin that must start a claim: a test's setup, not what it checks. */
  async function start(userId: string, recordKey: string, request: string) {
    const begun = await service.begin(userId, recordKey, fp(request));
    if (begun.kind !== 'started') throw new Error('expected a start');
    return begun;
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
      const started = await start(user, k, 'fp');
      await expect(service.begin(user, k, fp('other'))).rejects.toMatchObject({ code: 'idempotency_key_reused' });
      await service.complete(started.recordId, 201, { ok: true });
      await expect(service.begin(user, k, fp('other'))).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    });

    it('replays a completed request: its status, its body and no reply', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await start(user, k, 'fp');
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
      const started = await start(first, k, 'fp-first');
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
      const started = await start(user, k, 'fp');
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
      const first = await start(user, k, 'fp');
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
      const started = await start(user, k, 'fp');
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
      const old = await start(user, k, 'fp');
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

    it('claims the key itself when the request holding it gives it back before it is looked up', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const first = await start(user, k, 'fp');
      beforeStatement(/SELECT id, fingerprint/, () => service.abandon(first.recordId));
      const second = await service.begin(user, k, fp('fp'));
      expect(second).toEqual({ kind: 'started', recordId: expect.any(String) });
      expect(second).not.toEqual(first);
      expect(await recordsOf(user)).toEqual([{ key: k, state: 'in_flight', message_id: null }]);
    });

    it('leaves a stale claim to the request that took it over first, and reports the key in flight', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      await service.begin(user, k, fp('fp'));
      await age(k, 'created_at', 60);
      let rival: IdempotencyBegin | undefined;
      beforeStatement(/SET id = gen_random_uuid\(\), fingerprint/, async () => {
        rival = await service.begin(user, k, fp('fp'), { staleInFlightMs: 30_000 });
      });
      await expect(service.begin(user, k, fp('fp'), { staleInFlightMs: 30_000 })).rejects.toMatchObject({
        code: 'idempotency_key_in_flight',
        details: { retryAfterSeconds: 1 },
      });
      if (rival?.kind !== 'started') throw new Error('expected the rival to take the claim over');
      // The rival's claim is the one that counts.
      await service.complete(rival.recordId, 201, { from: 'rival' });
      expect(await service.begin(user, k, fp('fp'))).toMatchObject({ kind: 'replay', body: { from: 'rival' } });
    });

    it('gives up as in flight after three rounds of losing a stale claim, and takes it once that stops', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      await service.begin(user, k, fp('fp'));
      await age(k, 'created_at', 60);
      // Each time this request tries to take the claim over, another one has just done so, and died too.
      const rounds = 3;
      beforeStatement(
        /SET id = gen_random_uuid\(\), fingerprint/,
        () =>
          rowsOf(
            dataSource,
            `UPDATE idempotency_records SET id = gen_random_uuid(), created_at = now() - interval '60 seconds'
             WHERE key = $1`,
            [k],
          ),
        rounds,
      );
      await expect(service.begin(user, k, fp('fp'), { staleInFlightMs: 30_000 })).rejects.toMatchObject({
        code: 'idempotency_key_in_flight',
        details: { retryAfterSeconds: 1 },
      });
      expect(await service.begin(user, k, fp('fp'), { staleInFlightMs: 30_000 })).toMatchObject({ kind: 'started' });
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
      const started = await start(user, k, 'fp');
      await service.complete(started.recordId, 201, { text: 'a\0b\uD800c\uDC00d\uD83D\uDE00' });
      expect(await service.begin(user, k, fp('fp'))).toMatchObject({
        body: { text: 'a\uFFFDb\uFFFDc\uFFFDd\uD83D\uDE00' },
      });
    });

    it('warns when a claim it completes was taken over, and records nothing for it', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const user = await insertUser(dataSource);
      const k = nextKey();
      const old = await start(user, k, 'fp');
      await age(k, 'created_at', 60);
      const taken = await service.begin(user, k, fp('fp'), { staleInFlightMs: 30_000 });
      if (taken.kind !== 'started') throw new Error('expected a take-over');
      await service.complete(taken.recordId, 201, {});
      expect(warn).not.toHaveBeenCalled();
      await service.complete(old.recordId, 500, {});
      expect(warn).toHaveBeenCalledWith({ event: 'idempotency_claim_lost', recordId: old.recordId });
      expect(await service.begin(user, k, fp('fp'))).toMatchObject({ kind: 'replay', status: 201 });
    });

    it('replays an empty outcome as null', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await start(user, k, 'fp');
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
      const started = await start(user, k, 'fp');
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

    it("gives the work's failure, not the key's, when the key cannot be given back", async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      jest.spyOn(service, 'abandon').mockRejectedValueOnce(new Error('connection lost'));
      const user = await insertUser(dataSource);
      await expect(
        service.once(user, nextKey(), fp('fp'), 200, async () => {
          throw new Error('no change made');
        }),
      ).rejects.toThrow('no change made');
      expect(warn).toHaveBeenCalledWith({ event: 'idempotency_abandon_failed', error: 'connection lost' });
    });

    it('refuses a key whose request is still running or named a reply', async () => {
      const user = await insertUser(dataSource);
      const k = nextKey();
      const started = await start(user, k, 'fp');
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
      const started = await start(user, k, 'fp');
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

  describe('the purge in the background', () => {
    // Only the interval is faked: the database driver keeps its own timers.
    beforeEach(() => {
      jest.useFakeTimers({
        doNotFake: [
          'Date',
          'hrtime',
          'nextTick',
          'performance',
          'queueMicrotask',
          'setImmediate',
          'clearImmediate',
          'setTimeout',
          'clearTimeout',
        ],
      });
    });
    afterEach(() => jest.useRealTimers());

    it('purges at start and every ten minutes until shutdown, saying how many it removed', async () => {
      await service.purgeExpired();
      const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      const background = new IdempotencyService(dataSource, db().config);
      const purge = jest.spyOn(background, 'purgeExpired');
      const user = await insertUser(dataSource);
      const k = nextKey();
      await background.begin(user, k, fp('fp'));
      await age(k, 'expires_at', 1);
      await background.onApplicationBootstrap();
      expect(purge).toHaveBeenCalledTimes(1);
      expect(await recordsOf(user)).toEqual([]);
      expect(log).toHaveBeenCalledWith({ event: 'idempotency_records_purged', count: 1 });

      log.mockClear();
      jest.advanceTimersByTime(10 * 60_000 - 1);
      expect(purge).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(1);
      expect(purge).toHaveBeenCalledTimes(2);
      await purge.mock.results[1]?.value;
      // Nothing had expired: nothing to say.
      expect(log).not.toHaveBeenCalled();

      background.onApplicationShutdown();
      jest.advanceTimersByTime(60 * 60_000);
      expect(purge).toHaveBeenCalledTimes(2);
    });

    it('starts even when the purge fails, with a warning', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const background = new IdempotencyService(dataSource, db().config);
      jest.spyOn(background, 'purgeExpired').mockRejectedValue(new Error('database unavailable'));
      await background.onApplicationBootstrap();
      expect(warn).toHaveBeenCalledWith({ event: 'idempotency_purge_failed', error: 'database unavailable' });
      background.onApplicationShutdown();
    });

    it('shuts down quietly when it never started', () => {
      expect(() => new IdempotencyService(dataSource, db().config).onApplicationShutdown()).not.toThrow();
    });
  });
});
