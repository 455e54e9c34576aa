import { randomUUID } from 'node:crypto';
import { AppError } from '../src/errors/app-error.js';
import { IdempotencyService, type IdempotencyBegin } from '../src/idempotency/idempotency.service.js';
import { useTestApp } from './support/test-app.js';
import { registerUser } from './support/factories.js';
import { attachReplyCte } from '../src/idempotency/idempotency.sql.js';

// Runs a call that must throw and returns the AppError, so tests can assert its code and details.
async function appErrorOf(call: () => unknown): Promise<AppError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError, but the call succeeded');
}

function recordIdOf(result: IdempotencyBegin): string {
  if (result.kind !== 'started') throw new Error(`expected started, got ${result.kind}`);
  return result.recordId;
}

// The statement persist-before uses to name the reply on the key, run on its own here.
const attachReplySql = `WITH ${attachReplyCte('$1::uuid', '(SELECT $2::uuid)')} SELECT 1`;

describe(IdempotencyService.name, () => {
  const t = useTestApp({ DATABASE_POOL_MAX: '20' });
  const service = (): IdempotencyService => t().app.get(IdempotencyService);
  const newUser = async (): Promise<string> => (await registerUser(t())).user.id;
  const fp = (content: string): string => service().fingerprint('sendMessage', { chatId: 'c1' }, { content });
  const attachReply = (recordId: string, messageId: string) =>
    t().dataSource.query(attachReplySql, [recordId, messageId]);

  describe('parseKey', () => {
    it('returns undefined when the header is absent', () => {
      expect(service().parseKey(undefined)).toBeUndefined();
    });

    it('reads a structured-field string and a bare token as the same key', () => {
      expect(service().parseKey('"c7a1e0f4-2b6d-4e8a"')).toBe('c7a1e0f4-2b6d-4e8a');
      expect(service().parseKey('c7a1e0f4-2b6d-4e8a')).toBe('c7a1e0f4-2b6d-4e8a');
    });

    it('keeps spaces inside quotes and accepts 255 characters either way', () => {
      expect(service().parseKey('"a b"')).toBe('a b');
      expect(service().parseKey(`"${'k'.repeat(255)}"`)).toBe('k'.repeat(255));
      expect(service().parseKey('k'.repeat(255))).toBe('k'.repeat(255));
    });

    it('takes a backslash literally in a bare token', () => {
      expect(service().parseKey('a\\b')).toBe('a\\b');
    });

    it.each([
      ['an empty value', '', 'minLength'],
      ['an empty quoted string', '""', 'pattern'],
      ['an escaped quote (the contract allows no escapes)', '"a\\"b"', 'pattern'],
      ['an escaped backslash (the contract allows no escapes)', '"a\\\\b"', 'pattern'],
      ['an unterminated quote', '"abc', 'pattern'],
      ['a space in a bare token', 'a b', 'pattern'],
      ['non-ASCII', 'clé', 'pattern'],
      ['non-ASCII inside quotes', '"clé"', 'pattern'],
      ['a control character', 'a\tb', 'pattern'],
      ['256 characters bare', 'k'.repeat(256), 'pattern'],
      ['256 characters quoted', `"${'k'.repeat(256)}"`, 'maxLength'],
      ['300 characters', 'k'.repeat(300), 'maxLength'],
    ])('refuses %s with validation_failed', async (_name, header, keyword) => {
      const error = await appErrorOf(() => service().parseKey(header));
      expect(error.code).toBe('validation_failed');
      expect(error.status).toBe(400);
      expect(error.details.errors).toEqual([
        { location: 'header', pointer: '/Idempotency-Key', message: expect.any(String), keyword },
      ]);
    });

    it('refuses a list of values with validation_failed', async () => {
      const error = await appErrorOf(() => service().parseKey(['"a"', '"b"']));
      expect(error.code).toBe('validation_failed');
      expect(error.details.errors).toEqual([
        { location: 'header', pointer: '/Idempotency-Key', message: expect.any(String), keyword: 'type' },
      ]);
    });
  });

  describe('fingerprint', () => {
    it('is a SHA-256 hex digest that ignores key order at every level', () => {
      const a = service().fingerprint(
        'sendMessage',
        { chatId: 'c1', x: 'y' },
        { content: 'hi', meta: { a: 1, b: [1, 2] } },
      );
      const b = service().fingerprint(
        'sendMessage',
        { x: 'y', chatId: 'c1' },
        { meta: { b: [1, 2], a: 1 }, content: 'hi' },
      );
      expect(a).toMatch(/^[0-9a-f]{64}$/);
      expect(b).toBe(a);
    });

    it('differs for a different body, parameter or operation', () => {
      const base = service().fingerprint('sendMessage', { chatId: 'c1' }, { content: 'hi' });
      expect(service().fingerprint('sendMessage', { chatId: 'c1' }, { content: 'hi!' })).not.toBe(base);
      expect(service().fingerprint('sendMessage', { chatId: 'c2' }, { content: 'hi' })).not.toBe(base);
      expect(service().fingerprint('regenerateMessage', { chatId: 'c1' }, { content: 'hi' })).not.toBe(base);
      expect(service().fingerprint('sendMessage', { chatId: 'c1' }, { content: 'hi', extra: true })).not.toBe(base);
      expect(service().fingerprint('sendMessage', { chatId: 'c1' }, [{ content: 'hi' }])).not.toBe(base);
      // Array order is meaningful, unlike key order.
      expect(service().fingerprint('op', {}, [1, 2])).not.toBe(service().fingerprint('op', {}, [2, 1]));
    });
  });

  describe('begin', () => {
    it('starts on first use and stores an in-flight record that expires after the TTL', async () => {
      const userId = await newUser();
      const result = await service().begin(userId, 'first', fp('hi'));
      const recordId = recordIdOf(result);
      const [row] = await t().dataSource.query(
        `SELECT user_id, key, fingerprint, state, response_status, message_id,
                round(extract(epoch from expires_at - created_at)) AS ttl
         FROM idempotency_records WHERE id = $1`,
        [recordId],
      );
      expect(row).toEqual({
        user_id: userId,
        key: 'first',
        fingerprint: fp('hi'),
        state: 'in_flight',
        response_status: null,
        message_id: null,
        ttl: String(t().config.trust.idempotencyTtlSeconds),
      });
    });

    it('answers 409 idempotency_key_in_flight with Retry-After 1 while the first is in flight', async () => {
      const userId = await newUser();
      recordIdOf(await service().begin(userId, 'busy', fp('hi')));
      const error = await appErrorOf(() => service().begin(userId, 'busy', fp('hi')));
      expect(error.code).toBe('idempotency_key_in_flight');
      expect(error.status).toBe(409);
      expect(error.details.retryAfterSeconds).toBe(1);
    });

    it('replays the stored status, body and message after complete', async () => {
      const userId = await newUser();
      const messageId = randomUUID();
      const recordId = recordIdOf(await service().begin(userId, 'done', fp('hi')));
      await attachReply(recordId, messageId);
      const body = { message: { id: messageId, content: 'Ahoy' }, usage: { totalTokens: 12 } };
      await service().complete(recordId, 201, body);
      expect(await service().begin(userId, 'done', fp('hi'))).toEqual({ kind: 'replay', status: 201, body, messageId });
      // A replay does not consume the outcome.
      expect(await service().begin(userId, 'done', fp('hi'))).toEqual({ kind: 'replay', status: 201, body, messageId });
    });

    it('replays an error outcome and a body jsonb could not hold as it was', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'failed', fp('hi')));
      await service().complete(recordId, 503, { code: 'provider_unavailable', note: 'lone \uD800 and nul \u0000' });
      expect(await service().begin(userId, 'failed', fp('hi'))).toEqual({
        kind: 'replay',
        status: 503,
        body: { code: 'provider_unavailable', note: 'lone \uFFFD and nul \uFFFD' },
        messageId: null,
      });
    });

    it('answers a repeat of a request whose reply is stored but whose outcome is not with that reply', async () => {
      const userId = await newUser();
      const messageId = randomUUID();
      const recordId = recordIdOf(await service().begin(userId, 'attached', fp('hi')));
      await attachReply(recordId, messageId);
      expect(await service().begin(userId, 'attached', fp('hi'))).toEqual({ kind: 'attached', recordId, messageId });
    });

    it('never takes over a stale claim that stored a reply, and keeps it when the request gives the key back', async () => {
      const userId = await newUser();
      const messageId = randomUUID();
      const recordId = recordIdOf(await service().begin(userId, 'crashed', fp('hi')));
      await attachReply(recordId, messageId);
      await service().abandon(recordId);
      await t().dataSource.query(`UPDATE idempotency_records SET created_at = now() - interval '1 day' WHERE id = $1`, [
        recordId,
      ]);
      expect(await service().begin(userId, 'crashed', fp('hi'), { staleInFlightMs: 1000 })).toEqual({
        kind: 'attached',
        recordId,
        messageId,
      });
    });

    it('takes over a stale claim that stored nothing (its process died before persisting)', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'died-early', fp('hi')));
      await t().dataSource.query(`UPDATE idempotency_records SET created_at = now() - interval '1 day' WHERE id = $1`, [
        recordId,
      ]);
      const taken = await service().begin(userId, 'died-early', fp('hi'), { staleInFlightMs: 1000 });
      expect(taken.kind).toBe('started');
      expect(recordIdOf(taken)).not.toBe(recordId);
    });

    it('answers 422 idempotency_key_reused for the same key with a different request', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'reused', fp('hi')));
      const whileInFlight = await appErrorOf(() => service().begin(userId, 'reused', fp('bye')));
      expect(whileInFlight.code).toBe('idempotency_key_reused');
      expect(whileInFlight.status).toBe(422);
      await service().complete(recordId, 201, { ok: true });
      const afterwards = await appErrorOf(() => service().begin(userId, 'reused', fp('bye')));
      expect(afterwards.code).toBe('idempotency_key_reused');
    });

    it('scopes keys to the user: each user retrying a shared key gets their own outcome back', async () => {
      const alice = await newUser();
      const bob = await newUser();
      const aliceRecord = recordIdOf(await service().begin(alice, 'shared', fp('hi')));
      await service().complete(aliceRecord, 201, { secret: 'alice' });
      // Bob's key is his own: a different request under it starts, it is not Alice's 422.
      const bobRecord = recordIdOf(await service().begin(bob, 'shared', fp('bye')));
      expect(bobRecord).not.toBe(aliceRecord);
      await service().complete(bobRecord, 201, { secret: 'bob' });
      // Each one's retry finds their own record, whoever used the key last.
      for (const [user, content, secret] of [
        [alice, 'hi', 'alice'],
        [bob, 'bye', 'bob'],
        [alice, 'hi', 'alice'],
      ] as const) {
        expect(await service().begin(user, 'shared', fp(content))).toEqual({
          kind: 'replay',
          status: 201,
          body: { secret },
          messageId: null,
        });
      }
    });

    it('scopes in-flight keys to the user: another user holding the key does not make yours 409', async () => {
      const alice = await newUser();
      const bob = await newUser();
      recordIdOf(await service().begin(bob, 'held', fp('hi')));
      const aliceRecord = recordIdOf(await service().begin(alice, 'held', fp('hi')));
      await service().complete(aliceRecord, 201, { secret: 'alice' });
      expect(await service().begin(alice, 'held', fp('hi'))).toMatchObject({
        kind: 'replay',
        body: { secret: 'alice' },
      });
      await expect(appErrorOf(() => service().begin(bob, 'held', fp('hi')))).resolves.toMatchObject({
        code: 'idempotency_key_in_flight',
      });
    });

    it('lets exactly one of 20 concurrent begin() with one key start; the rest get 409', async () => {
      const userId = await newUser();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => service().begin(userId, 'race', fp('hi'))),
      );
      const started = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'started');
      const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as AppError).code] : []));
      expect(started).toHaveLength(1);
      expect(codes).toEqual(Array.from({ length: 19 }, () => 'idempotency_key_in_flight'));
      const [{ count }] = await t().dataSource.query(
        'SELECT count(*)::int AS count FROM idempotency_records WHERE user_id = $1',
        [userId],
      );
      expect(count).toBe(1);
    });

    it('lets exactly one of 20 concurrent begin() take over an expired key', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'race-expired', fp('hi')));
      await service().complete(recordId, 201, { old: true });
      await expireRecord(recordId);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => service().begin(userId, 'race-expired', fp('hi'))),
      );
      const started = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'started');
      const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as AppError).code] : []));
      expect(started).toHaveLength(1);
      expect(codes).toEqual(Array.from({ length: 19 }, () => 'idempotency_key_in_flight'));
    });

    it('starts again once the record has expired, whatever request it held', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'expired', fp('hi')));
      await attachReply(recordId, randomUUID());
      await service().complete(recordId, 201, { old: true });
      await expireRecord(recordId);
      const again = recordIdOf(await service().begin(userId, 'expired', fp('a different body')));
      const [row] = await t().dataSource.query(
        `SELECT fingerprint, state, response_status, response_body, message_id, expires_at > now() AS live
         FROM idempotency_records WHERE id = $1`,
        [again],
      );
      expect(row).toEqual({
        fingerprint: fp('a different body'),
        state: 'in_flight',
        response_status: null,
        response_body: null,
        message_id: null,
        live: true,
      });
    });

    it('takes over an in-flight claim older than staleInFlightMs, fencing off the old holder', async () => {
      const userId = await newUser();
      const oldRecord = recordIdOf(await service().begin(userId, 'stale', fp('hi')));
      await t().dataSource.query(
        `UPDATE idempotency_records SET created_at = now() - interval '5 seconds' WHERE id = $1`,
        [oldRecord],
      );
      // Not yet stale by the default (turn deadline plus a margin): still in flight.
      expect((await appErrorOf(() => service().begin(userId, 'stale', fp('hi')))).code).toBe(
        'idempotency_key_in_flight',
      );
      // A different request is refused rather than allowed to take the key over.
      expect(
        (await appErrorOf(() => service().begin(userId, 'stale', fp('bye'), { staleInFlightMs: 1000 }))).code,
      ).toBe('idempotency_key_reused');
      const newRecord = recordIdOf(await service().begin(userId, 'stale', fp('hi'), { staleInFlightMs: 1000 }));
      expect(newRecord).not.toBe(oldRecord);
      // The presumed-dead holder finishing late must not overwrite the new claim.
      await service().complete(oldRecord, 201, { late: true });
      const [row] = await t().dataSource.query('SELECT state, response_body FROM idempotency_records WHERE id = $1', [
        newRecord,
      ]);
      expect(row).toEqual({ state: 'in_flight', response_body: null });
      expect((await appErrorOf(() => service().begin(userId, 'stale', fp('hi')))).code).toBe(
        'idempotency_key_in_flight',
      );
    });

    it('starts again after abandon, with any request', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'abandoned', fp('hi')));
      await service().abandon(recordId);
      const [{ count }] = await t().dataSource.query(
        'SELECT count(*)::int AS count FROM idempotency_records WHERE id = $1',
        [recordId],
      );
      expect(count).toBe(0);
      recordIdOf(await service().begin(userId, 'abandoned', fp('bye')));
    });

    it('does not let abandon drop a completed outcome', async () => {
      const userId = await newUser();
      const recordId = recordIdOf(await service().begin(userId, 'kept', fp('hi')));
      await service().complete(recordId, 201, { kept: true });
      await service().abandon(recordId);
      expect(await service().begin(userId, 'kept', fp('hi'))).toEqual({
        kind: 'replay',
        status: 201,
        body: { kept: true },
        messageId: null,
      });
    });
  });

  describe('purgeExpired', () => {
    it('deletes only expired records and returns how many', async () => {
      await service().purgeExpired(); // whatever earlier tests expired
      const userId = await newUser();
      const expired = [
        recordIdOf(await service().begin(userId, 'old-1', fp('hi'))),
        recordIdOf(await service().begin(userId, 'old-2', fp('hi'))),
      ];
      const live = [
        recordIdOf(await service().begin(userId, 'live-1', fp('hi'))),
        recordIdOf(await service().begin(userId, 'live-2', fp('hi'))),
      ];
      await service().complete(expired[0], 201, { old: true });
      await service().complete(live[0], 201, { live: true });
      for (const id of expired) await expireRecord(id);

      expect(await service().purgeExpired()).toBe(2);
      const rows: Array<{ id: string }> = await t().dataSource.query(
        'SELECT id FROM idempotency_records WHERE user_id = $1 ORDER BY key',
        [userId],
      );
      expect(rows.map((r) => r.id).sort()).toEqual([...live].sort());
      expect(await service().purgeExpired()).toBe(0);
    });
  });

  async function expireRecord(recordId: string): Promise<void> {
    await t().dataSource.query(
      `UPDATE idempotency_records SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [recordId],
    );
  }
});
