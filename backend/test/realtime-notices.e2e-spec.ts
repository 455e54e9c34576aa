import { randomUUID } from 'node:crypto';
import type { RealtimeEvent } from '@parley/api-types';
import { EventStore } from '../src/realtime/event-store.js';
import { readNotice, type EventDraft } from '../src/realtime/event-draft.js';
import { rowsOf } from '../src/database/sql.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

// The numbering statement (EventStore.append): numbers, stores and packs events into notices.
describe('realtime events numbered and packed in one statement', () => {
  const t = useTestApp();
  const store = () => t().app.get(EventStore);
  const drafted = (userId: string, draft: EventDraft) => ({ userId, draft });

  it('numbers each user gap-free in order, stores every event, and packs notices within the limit', async () => {
    const [a, b] = [await registerUser(t()), await registerUser(t())];
    const chat = await createChat(t(), a.accessToken);
    const long = 'x'.repeat(3000);
    const drafts = [
      ...Array.from({ length: 30 }, (_, i) =>
        drafted(i % 3 === 0 ? b.user.id : a.user.id, {
          type: 'reply.delta',
          chatId: chat.id,
          messageId: randomUUID(),
          offset: i,
          text: `piece ${i} `,
        }),
      ),
      drafted(a.user.id, { type: 'chat.title_updated', chatId: chat.id, title: long }),
      drafted(a.user.id, { type: 'balance.changed' }),
    ];
    const before = await store().head(a.user.id);
    const maxBytes = 1000;
    const notices = await store().append(t().dataSource.manager, drafts, { maxBytes, channel: null });

    for (const notice of notices) expect(Buffer.byteLength(notice)).toBeLessThanOrEqual(maxBytes);
    expect(notices.length).toBeGreaterThan(1);
    const entries = notices.flatMap(readNotice);
    // Every event once, in the order given; each user's numbers follow on from before, gap-free.
    expect(entries).toHaveLength(drafts.length);
    expect(entries.map(([userId]) => userId)).toEqual(drafts.map((d) => d.userId));
    const aSeqs = entries.filter(([userId]) => userId === a.user.id).map(([, seq]) => seq);
    expect(aSeqs).toEqual(aSeqs.map((_, i) => before.head + 1 + i));
    const bSeqs = entries.filter(([userId]) => userId === b.user.id).map(([, seq]) => seq);
    expect(bSeqs).toEqual(bSeqs.map((_, i) => bSeqs[0]! + i));
    // The event too large for a notice travels as 0 and is read from the store by its number.
    const [titleUser, titleSeq, titleEvent] = entries.at(-2)!;
    expect(titleEvent).toBe(0);
    const [stored] = await store().range(titleUser, titleSeq - 1, titleSeq, 1);
    expect(stored).toEqual({ type: 'chat.title_updated', chatId: chat.id, title: long, seq: titleSeq });
    // The rest carry the event as stored, its number inside.
    for (const [userId, seq, event] of entries.slice(0, -2)) {
      const [read] = await store().range(userId, seq - 1, seq, 1);
      expect(event).toEqual(read);
      expect((event as RealtimeEvent).seq).toBe(seq);
    }
    // The balance as it is when numbered.
    const balance = entries.at(-1)![2] as Extract<RealtimeEvent, { type: 'balance.changed' }>;
    const [user] = await rowsOf<{ token_balance: string }>(
      t().dataSource,
      'SELECT token_balance FROM users WHERE id = $1',
      [a.user.id],
    );
    expect(balance.tokenBalance).toBe(Number(user!.token_balance));
  });

  it('numbers the balance last announced with the balance as it stands after a change committed while waiting', async () => {
    const { user } = await registerUser(t());
    const runner = t().dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      // Another transaction changes the balance and holds the row while the events are numbered.
      await runner.query('UPDATE users SET token_balance = 4242 WHERE id = $1', [user.id]);
      const numbering = store().append(t().dataSource.manager, [drafted(user.id, { type: 'balance.changed' })], {
        maxBytes: 7900,
        channel: null,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await runner.commitTransaction();
      const [[, , event]] = (await numbering).flatMap(readNotice);
      expect(event).toMatchObject({ type: 'balance.changed', tokenBalance: 4242 });
    } finally {
      await runner.release();
    }
  });

  it('stores nothing and uses no number when the statement fails', async () => {
    const { user } = await registerUser(t());
    const before = await store().head(user.id);
    await expect(
      store().append(
        t().dataSource.manager,
        [
          drafted(user.id, { type: 'balance.changed' }),
          // Not a uuid: the statement fails as a whole.
          drafted(user.id, { type: 'chat.deleted', chatId: 'not-a-uuid' }),
        ],
        { maxBytes: 7900, channel: null },
      ),
    ).rejects.toThrow();
    expect(await store().head(user.id)).toEqual(before);
  });
});
