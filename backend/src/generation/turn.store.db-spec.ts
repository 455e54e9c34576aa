import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import { balanceOf, insertChat, insertUser, ledgerOf } from '../../test/support/db-rows.js';
import { type CompletedReply, TurnStore } from './turn.store.js';

// A turn's statements against a real PostgreSQL: each phase reserves, settles or releases the
// tokens exactly once, and a reply that is no longer running is left alone.
const db = useTestDatabase();

function reply(overrides: Partial<CompletedReply> = {}): CompletedReply {
  return {
    content: 'Ahoy.',
    provider: 'demo',
    model: 'demo-1',
    promptTokens: 100,
    completionTokens: 50,
    degraded: false,
    attempts: [],
    finishReason: 'stop',
    moderation: null,
    ...overrides,
  };
}

describe(TurnStore.name, () => {
  let dataSource: DataSource;
  let store: TurnStore;
  beforeAll(() => {
    dataSource = db().dataSource;
    store = new TurnStore(dataSource);
  });

  /** A user with `balance`, a chat, and a sent message whose reply reserved `reserve`. */
  async function sent(balance: number, reserve: number) {
    const user = await insertUser(dataSource, balance);
    const chat = await insertChat(dataSource, user);
    const turn = await store.persistSend(user, { id: chat, title: null }, '  Hello there\nand more', reserve, null);
    return { user, chat, reply: turn.assistant.id, turn };
  }

  async function statusOf(messageId: string) {
    const [row] = await rowsOf<{ status: string; content: string; error_code: string | null }>(
      dataSource,
      'SELECT status, content, error_code FROM messages WHERE id = $1',
      [messageId],
    );
    return row;
  }

  describe('persistSend', () => {
    it('reserves the tokens and stores the message, a pending reply and the title', async () => {
      const { user, chat, reply: id, turn } = await sent(1000, 300);
      expect(await balanceOf(dataSource, user)).toBe(700);
      expect(await ledgerOf(dataSource, id)).toEqual(['reservation 0 -300']);
      expect(turn.user).toMatchObject({ role: 'user', content: '  Hello there\nand more', status: 'complete' });
      expect(turn.assistant).toMatchObject({ role: 'assistant', status: 'pending', replyToId: turn.user.id });
      const [row] = await rowsOf<{ title: string }>(dataSource, 'SELECT title FROM chats WHERE id = $1', [chat]);
      expect(row!.title).toBe('Hello there');
    });

    it('sends when the balance equals the reservation, and refuses with nothing stored when one short', async () => {
      const { user } = await sent(300, 300);
      expect(await balanceOf(dataSource, user)).toBe(0);
      const poor = await insertUser(dataSource, 299);
      const chat = await insertChat(dataSource, poor);
      await expect(store.persistSend(poor, { id: chat, title: null }, 'Hi', 300, null)).rejects.toMatchObject({
        code: 'insufficient_tokens',
      });
      expect(await balanceOf(dataSource, poor)).toBe(299);
      expect(await rowsOf(dataSource, 'SELECT id FROM messages WHERE chat_id = $1', [chat])).toEqual([]);
    });
  });

  describe('complete', () => {
    it('settles the reservation into the actual charge, once', async () => {
      const { user, chat, reply: id } = await sent(1000, 300);
      const done = await store.complete(user, chat, id, 300, reply(), {});
      expect(done.tokenBalance).toBe(850);
      expect(done.message).toMatchObject({
        status: 'complete',
        content: 'Ahoy.',
        promptTokens: 100,
        completionTokens: 50,
      });
      await expect(store.complete(user, chat, id, 300, reply(), {})).rejects.toMatchObject({ code: 'turn_cancelled' });
      expect(await balanceOf(dataSource, user)).toBe(850);
      expect(await ledgerOf(dataSource, id)).toEqual(['reservation 0 -300', 'settlement 0 150']);
    });

    it('charges a reply that cost more than its reservation, never below zero', async () => {
      const { user, chat, reply: id } = await sent(400, 300);
      const done = await store.complete(user, chat, id, 300, reply({ promptTokens: 300, completionTokens: 250 }), {});
      expect(done.tokenBalance).toBe(0);
    });

    it('releases the reservation of a degraded reply: it is never charged', async () => {
      const { user, chat, reply: id } = await sent(1000, 300);
      const done = await store.complete(user, chat, id, 300, reply({ degraded: true }), {});
      expect(done.tokenBalance).toBe(1000);
      expect(done.message.degraded).toBe(true);
      expect(await ledgerOf(dataSource, id)).toEqual(['release 0 300', 'reservation 0 -300']);
    });

    it('answers chat_not_found when the chat was deleted meanwhile', async () => {
      const { user, chat, reply: id } = await sent(1000, 300);
      await rowsOf(dataSource, 'DELETE FROM chats WHERE id = $1', [chat]);
      await expect(store.complete(user, chat, id, 300, reply(), {})).rejects.toMatchObject({ code: 'chat_not_found' });
    });
  });

  describe('fail, cancel and finishCancelled', () => {
    it('fails the reply with its code and gives the reservation back', async () => {
      const { user, reply: id } = await sent(1000, 300);
      await store.fail(id, 'provider_unavailable', {}, 2, null);
      expect(await statusOf(id)).toEqual({ status: 'failed', content: '', error_code: 'provider_unavailable' });
      expect(await balanceOf(dataSource, user)).toBe(1000);
      await store.fail(id, 'provider_unavailable', {}, 2, null);
      expect(await balanceOf(dataSource, user)).toBe(1000);
    });

    it('cancels a running reply with its text so far, releasing once; a finished reply is left alone', async () => {
      const { user, chat, reply: id } = await sent(1000, 300);
      expect(await store.cancel(id, 'Ah')).toMatchObject({
        status: 'cancelled',
        content: 'Ah',
        errorCode: 'turn_cancelled',
      });
      expect(await balanceOf(dataSource, user)).toBe(1000);
      expect(await store.cancel(id, 'Ahoy')).toBeNull();
      await store.finishCancelled(id, 'Aho', {});
      expect(await statusOf(id)).toMatchObject({ status: 'cancelled', content: 'Aho' });
      expect(await balanceOf(dataSource, user)).toBe(1000);
      await expect(store.complete(user, chat, id, 300, reply(), {})).rejects.toMatchObject({ code: 'turn_cancelled' });
      expect(await ledgerOf(dataSource, id)).toEqual(['release 0 300', 'reservation 0 -300']);
    });

    it('keeps the text stored so far when a cancel brings none', async () => {
      const { reply: id } = await sent(1000, 300);
      await store.checkpointMany([{ id, text: 'Checkpointed' }], []);
      expect(await store.cancel(id, null)).toMatchObject({ content: 'Checkpointed' });
    });
  });
});
