import type { Problem } from '@parley/api-types';
import type { Response } from 'supertest';
import { TurnAdmission } from '../src/generation/admission/turn-admission.js';
import { rowsOf } from '../src/database/sql.js';
import { useTestApp, type TestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

// A pool of two connections that refuses a wait of more than a second: without admission, a burst
// of sends far larger than the pool times out in the pool's queue (503 after a second).
const SMALL_POOL = {
  DATABASE_POOL_MAX: '2',
  DATABASE_CONNECT_TIMEOUT_MS: '1000',
  TURN_RATE_LIMIT_PER_MINUTE: '0',
  SIGNUP_TOKEN_GRANT: '1000000',
};

async function chatsOf(t: TestApp, users: number, chatsPerUser: number) {
  const chats: { id: string; token: string }[] = [];
  for (let u = 0; u < users; u++) {
    const { accessToken } = await registerUser(t);
    for (let c = 0; c < chatsPerUser; c++)
      chats.push({ id: (await createChat(t, accessToken)).id, token: accessToken });
  }
  return chats;
}

function burst(t: TestApp, chats: { id: string; token: string }[], sends: number): Promise<Response[]> {
  return Promise.all(
    Array.from({ length: sends }, (_, i) => {
      const chat = chats[i % chats.length]!;
      return t.http
        .post(`/api/v1/chats/${chat.id}/messages`)
        .set('Authorization', `Bearer ${chat.token}`)
        .send({ content: `send ${i}` });
    }),
  );
}

describe(TurnAdmission.name, () => {
  describe('with the default limits', () => {
    const t = useTestApp(() => SMALL_POOL);

    it('completes a burst of sends sixty times the pool with no error, every message stored in order', async () => {
      const chats = await chatsOf(t(), 5, 4);
      const responses = await burst(t(), chats, 120);

      expect(responses.filter((r) => r.status !== 201).map((r) => [r.status, (r.body as Problem).code])).toEqual([]);
      // Every chat: greeting, then each send and its reply, numbered 1..n without a gap.
      const rows = await rowsOf<{ chat_id: string; n: number; max: number; complete: number }>(
        t().dataSource,
        `SELECT chat_id, count(*)::int AS n, max(seq)::int AS max,
           count(*) FILTER (WHERE role = 'assistant' AND status = 'complete')::int AS complete
         FROM messages WHERE chat_id = ANY($1::uuid[]) GROUP BY chat_id`,
        [chats.map((c) => c.id)],
      );
      expect(rows).toHaveLength(20);
      // The greeting is a complete assistant message too.
      for (const row of rows) expect(row).toMatchObject({ n: 13, max: 13, complete: 7 });
    });
  });

  describe('past its bounds', () => {
    const t = useTestApp(() => ({ ...SMALL_POOL, TURN_ADMISSION_CONCURRENCY: '1', TURN_ADMISSION_QUEUE_MAX: '2' }));

    it('answers 503 database_unavailable with Retry-After, stores nothing for those, and completes the rest', async () => {
      const chats = await chatsOf(t(), 2, 2);
      const responses = await burst(t(), chats, 20);

      const refused = responses.filter((r) => r.status === 503);
      const ok = responses.filter((r) => r.status === 201);
      expect(refused.length + ok.length).toBe(20);
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) {
        expect((r.body as Problem).code).toBe('database_unavailable');
        expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      const [stored] = await rowsOf<{ users: number }>(
        t().dataSource,
        `SELECT count(*)::int AS users FROM messages WHERE chat_id = ANY($1::uuid[]) AND role = 'user'`,
        [chats.map((c) => c.id)],
      );
      expect(stored!.users).toBe(ok.length);
    });
  });
});
