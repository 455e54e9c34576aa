import { BillingService } from '../src/billing/billing.service.js';
import { TurnStore } from '../src/generation/turn.store.js';
import { AppError } from '../src/errors/app-error.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

describe(BillingService.name, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '1000' });
  const store = () => t().app.get(TurnStore);
  const billing = () => t().app.get(BillingService);

  async function newChat() {
    const { accessToken, user } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    return { token: accessToken, userId: user.id, chat: { id: chat.id, title: chat.title } };
  }

  const ledger = (messageId: string) =>
    t().dataSource.query(
      'SELECT kind, amount::int AS amount FROM token_ledger WHERE message_id = $1 ORDER BY created_at, kind DESC',
      [messageId],
    ) as Promise<Array<{ kind: string; amount: number }>>;

  describe('the reservation at the start of a turn', () => {
    it('takes a reservation equal to the whole balance, leaving zero', async () => {
      const { userId, chat } = await newChat();
      const { assistant } = await store().persistSend(userId, chat, 'All of it', 1000, null);
      expect(await billing().balance(userId)).toBe(0);
      expect(await ledger(assistant.id)).toEqual([{ kind: 'reservation', amount: -1000 }]);
    });

    it('refuses a reservation one token over the balance with 402, storing nothing', async () => {
      const { userId, chat } = await newChat();
      const refused = await store()
        .persistSend(userId, chat, 'One too many', 1001, null)
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).code).toBe('insufficient_tokens');
      expect(await billing().balance(userId)).toBe(1000);
      const [{ count }] = await t().dataSource.query(
        `SELECT count(*)::int AS count FROM messages WHERE chat_id = $1 AND role = 'user'`,
        [chat.id],
      );
      expect(count).toBe(0);
    });

    it('lets two sends that each fit but not together through one at a time: exactly one is refused', async () => {
      const { userId, chat } = await newChat();
      const outcomes = await Promise.allSettled([
        store().persistSend(userId, chat, 'First', 600, null),
        store().persistSend(userId, chat, 'Second', 600, null),
      ]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(await billing().balance(userId)).toBe(400);
    });
  });

  describe('stopping a reply no process is running any more', () => {
    it('gives its reservation back, once, when the owner cancels it', async () => {
      const { token, userId, chat } = await newChat();
      // Stored and reserved by a process that then died: nothing live will release it.
      const { assistant } = await store().persistSend(userId, chat, 'Hello?', 300, null);
      expect(await billing().balance(userId)).toBe(700);

      const cancel = () =>
        t()
          .http.post(`/api/v1/chats/${chat.id}/messages/${assistant.id}/cancel`)
          .set('Authorization', `Bearer ${token}`)
          .expect(200);
      expect((await cancel()).body).toMatchObject({ id: assistant.id, status: 'cancelled' });
      expect(await billing().balance(userId)).toBe(1000);
      expect(await ledger(assistant.id)).toEqual([
        { kind: 'reservation', amount: -300 },
        { kind: 'release', amount: 300 },
      ]);
      const me = await t().http.get('/api/v1/me').set('Authorization', `Bearer ${token}`).expect(200);
      expect(me.body.tokenBalance).toBe(1000);

      // Cancelling again answers the same and gives nothing back twice.
      expect((await cancel()).body).toMatchObject({ id: assistant.id, status: 'cancelled' });
      expect(await billing().balance(userId)).toBe(1000);
      expect(await ledger(assistant.id)).toHaveLength(2);
    });

    it('gives the reservation back when a failed reply is recorded, and only once', async () => {
      const { userId, chat } = await newChat();
      const { assistant } = await store().persistSend(userId, chat, 'Hello?', 250, null);
      await store().fail(assistant.id, 'provider_unavailable', {}, 1, null);
      await store().fail(assistant.id, 'provider_unavailable', {}, 1, null);
      expect(await billing().balance(userId)).toBe(1000);
      expect(await billing().release(assistant.id, userId)).toBe(1000);
      expect(await ledger(assistant.id)).toEqual([
        { kind: 'reservation', amount: -250 },
        { kind: 'release', amount: 250 },
      ]);
    });
  });
});
