import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import {
  activeLeafOf,
  balanceOf,
  insertChat,
  insertIdempotencyRecord,
  insertUser,
  ledgerOf,
  replyOfRecord,
  treeOf,
} from '../../test/support/db-rows.js';
import { type CompletedReply, type TreeGuard, TurnStore } from './turn.store.js';

// A turn's statements against a real PostgreSQL: each phase reserves, settles or releases the
// tokens exactly once, and a reply that is no longer running is left alone.
const db = useTestDatabase();

const persona = { text: 'You are a pirate.', greeting: 'Ahoy!', version: 'v1' };

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

  /** `sent`, its reply completed (charged 150 of the 300 reserved): u1 answered by a1. */
  async function answered(balance: number, finished: Partial<CompletedReply> = {}) {
    const { user, chat, turn } = await sent(balance, 300);
    const done = await store.complete(user, chat, turn.assistant.id, 300, reply(finished), {});
    return { user, chat, question: turn.user, answer: done.message };
  }

  /** A follow-up exchange on the chat's active leaf, completed (150 charged): its two messages. */
  async function exchange(user: string, chat: string, content: string) {
    const turn = await store.persistSend(user, { id: chat, title: 'set' }, content, 300, null);
    const done = await store.complete(user, chat, turn.assistant.id, 300, reply({ content: `Re: ${content}` }), {});
    return { question: turn.user, answer: done.message };
  }

  /** What a refused action must leave as it was: the balance, the ledger, the tree and its active leaf. */
  async function stateOf(user: string, chat: string) {
    const ledger = await rowsOf<{ entry: string }>(
      dataSource,
      `SELECT message_id || ' ' || kind || ' ' || segment || ' ' || amount AS entry FROM token_ledger
       WHERE user_id = $1 ORDER BY entry`,
      [user],
    );
    const replies = await rowsOf<{ row: string }>(
      dataSource,
      `SELECT id || ' ' || status || ' ' || content || ' ' || metadata::text AS row FROM messages
       WHERE chat_id = $1 ORDER BY seq`,
      [chat],
    );
    return {
      balance: await balanceOf(dataSource, user),
      ledger: ledger.map((r) => r.entry),
      tree: await treeOf(dataSource, chat),
      messages: replies.map((r) => r.row),
      leaf: await activeLeafOf(dataSource, chat),
    };
  }

  function guard(leaf: string, conflict: TreeGuard['conflict']): TreeGuard {
    return { leaf, conflict };
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
      expect(turn.assistant).toMatchObject({
        role: 'assistant',
        status: 'pending',
        content: '',
        replyToId: turn.user.id,
        parentId: turn.user.id,
      });
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

    it('titles the chat with the first line of its first message, cut at a word-safe length', async () => {
      const titleOf = async (content: string) => {
        const user = await insertUser(dataSource, 1000);
        const chat = await insertChat(dataSource, user);
        await store.persistSend(user, { id: chat, title: null }, content, 300, null);
        const [row] = await rowsOf<{ title: string | null }>(dataSource, 'SELECT title FROM chats WHERE id = $1', [
          chat,
        ]);
        return row!.title;
      };
      const sixty = `${'a'.repeat(58)} b`;
      expect(await titleOf(sixty)).toBe(sixty);
      expect(await titleOf(`${sixty}c`)).toBe(`${'a'.repeat(58)}…`);
      expect(await titleOf(`  ${'b'.repeat(70)}\nsecond line`)).toBe(`${'b'.repeat(59)}…`);
      expect(await titleOf('  \n  ')).toBeNull();
    });

    it('does not wait for a running reply: a second send hangs off the first one’s reply', async () => {
      const { user, chat, reply: first } = await sent(1000, 300);
      const turn = await store.persistSend(user, { id: chat, title: 'Hello there' }, 'And?', 300, null);
      expect(turn.user.parentId).toBe(first);
      expect(await treeOf(dataSource, chat)).toEqual([
        '1 user complete -',
        '2 assistant pending 1',
        '3 user complete 2',
        '4 assistant pending 3',
      ]);
      expect(await activeLeafOf(dataSource, chat)).toBe(turn.assistant.id);
      expect(await balanceOf(dataSource, user)).toBe(400);
    });

    it('lets a database error other than a deleted chat’s through, with nothing stored', async () => {
      const user = await insertUser(dataSource, 1000);
      const chat = await insertChat(dataSource, user);
      await expect(
        store.persistSend(user, { id: chat, title: null }, 'Nul \u0000 byte', 300, null),
      ).rejects.toMatchObject({
        code: '22021',
      });
      expect(await balanceOf(dataSource, user)).toBe(1000);
      expect(await treeOf(dataSource, chat)).toEqual([]);
    });

    it('refuses with chat_not_found, the tokens kept, when the chat was deleted before the statement', async () => {
      const user = await insertUser(dataSource, 1000);
      const chat = await insertChat(dataSource, user);
      await rowsOf(dataSource, 'DELETE FROM chats WHERE id = $1', [chat]);
      await expect(store.persistSend(user, { id: chat, title: null }, 'Hi', 300, null)).rejects.toMatchObject({
        code: 'chat_not_found',
      });
      expect(await balanceOf(dataSource, user)).toBe(1000);
      expect(await rowsOf(dataSource, 'SELECT id FROM token_ledger WHERE user_id = $1', [user])).toEqual([]);
    });
  });

  describe('persistRegenerate', () => {
    it('stores a pending reply beside the replaced one, reserves its tokens and makes it the active leaf', async () => {
      const { user, chat, question, answer } = await answered(1000);
      const record = await insertIdempotencyRecord(dataSource, user);
      const { assistant, alternatives } = await store.persistRegenerate(
        user,
        chat,
        question.id,
        200,
        record,
        guard(answer.id, 'message_not_regenerable'),
      );
      expect(assistant).toMatchObject({
        role: 'assistant',
        status: 'pending',
        content: '',
        parentId: question.id,
        replyToId: question.id,
        seq: 3,
      });
      expect(alternatives).toEqual({ user: { index: 1, count: 1 }, assistant: { index: 2, count: 2 } });
      expect(await balanceOf(dataSource, user)).toBe(650);
      expect(await ledgerOf(dataSource, assistant.id)).toEqual(['reservation 0 -200']);
      expect(await ledgerOf(dataSource, answer.id)).toEqual(['reservation 0 -300', 'settlement 0 150']);
      expect(await treeOf(dataSource, chat)).toEqual([
        '1 user complete -',
        '2 assistant complete 1',
        '3 assistant pending 1',
      ]);
      expect(await activeLeafOf(dataSource, chat)).toBe(assistant.id);
      expect(await replyOfRecord(dataSource, record)).toBe(assistant.id);
    });

    it('refuses with the guard’s conflict, storing nothing, when the active leaf moved since the check', async () => {
      const { user, chat, question } = await answered(1000);
      const before = await stateOf(user, chat);
      await expect(
        store.persistRegenerate(user, chat, question.id, 200, null, guard(question.id, 'message_not_regenerable')),
      ).rejects.toMatchObject({ code: 'message_not_regenerable' });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses with generation_in_progress, storing nothing, while a reply of the chat is running', async () => {
      const { user, chat, turn } = await sent(1000, 300);
      const before = await stateOf(user, chat);
      await expect(
        store.persistRegenerate(
          user,
          chat,
          turn.user.id,
          200,
          null,
          guard(turn.assistant.id, 'message_not_regenerable'),
        ),
      ).rejects.toMatchObject({ code: 'generation_in_progress' });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses another user’s chat with chat_not_found, charging neither of them', async () => {
      const { user, chat, question, answer } = await answered(1000);
      const intruder = await insertUser(dataSource, 1000);
      const before = await stateOf(user, chat);
      await expect(
        store.persistRegenerate(intruder, chat, question.id, 200, null, guard(answer.id, 'message_not_regenerable')),
      ).rejects.toMatchObject({ code: 'chat_not_found' });
      expect(await stateOf(user, chat)).toEqual(before);
      expect(await balanceOf(dataSource, intruder)).toBe(1000);
    });

    it('refuses with insufficient_tokens, storing nothing, when the balance is one short', async () => {
      const { user, chat, question, answer } = await answered(1000);
      const before = await stateOf(user, chat);
      await expect(
        store.persistRegenerate(user, chat, question.id, 851, null, guard(answer.id, 'message_not_regenerable')),
      ).rejects.toMatchObject({ code: 'insufficient_tokens' });
      expect(await stateOf(user, chat)).toEqual(before);
    });
  });

  describe('persistEdit', () => {
    it('stores a user message beside the edited one and a pending reply to it; the old branch stays', async () => {
      const { user, chat, question, answer } = await answered(1000);
      const second = await exchange(user, chat, 'Where to?');
      const record = await insertIdempotencyRecord(dataSource, user);
      const turn = await store.persistEdit(
        user,
        chat,
        second.question,
        'Where now?',
        200,
        record,
        guard(second.answer.id, 'message_not_editable'),
      );
      expect(turn.user).toMatchObject({ role: 'user', status: 'complete', content: 'Where now?', parentId: answer.id });
      expect(turn.assistant).toMatchObject({
        role: 'assistant',
        status: 'pending',
        content: '',
        parentId: turn.user.id,
        replyToId: turn.user.id,
      });
      expect(turn.alternatives).toEqual({ user: { index: 2, count: 2 }, assistant: { index: 1, count: 1 } });
      expect(await balanceOf(dataSource, user)).toBe(500);
      expect(await ledgerOf(dataSource, turn.assistant.id)).toEqual(['reservation 0 -200']);
      expect(await treeOf(dataSource, chat)).toEqual([
        '1 user complete -',
        '2 assistant complete 1',
        '3 user complete 2',
        '4 assistant complete 3',
        '5 user complete 2',
        '6 assistant pending 5',
      ]);
      expect(await activeLeafOf(dataSource, chat)).toBe(turn.assistant.id);
      expect(await replyOfRecord(dataSource, record)).toBe(turn.assistant.id);
      // The new branch's prompt reads only its own path.
      const plan = await store.promptPlan(chat, { from: answer.id, window: 10, next: 'Where now?' }, persona);
      expect(plan.includedMessageIds).toEqual([question.id, answer.id]);
      expect(plan.messages.map((m) => m.content)).toEqual(['  Hello there\nand more', 'Ahoy.', 'Where now?']);
    });

    it('places a regenerated reply of the edited message among its siblings', async () => {
      const { user, chat } = await answered(1000);
      const second = await exchange(user, chat, 'Where to?');
      const turn = await store.persistEdit(
        user,
        chat,
        second.question,
        'Where now?',
        200,
        null,
        guard(second.answer.id, 'message_not_editable'),
      );
      await store.complete(user, chat, turn.assistant.id, 200, reply(), {});
      const again = await store.persistRegenerate(
        user,
        chat,
        turn.user.id,
        200,
        null,
        guard(turn.assistant.id, 'message_not_regenerable'),
      );
      expect(again.alternatives).toEqual({ user: { index: 2, count: 2 }, assistant: { index: 2, count: 2 } });
    });

    it('refuses to edit a root message with message_not_editable, storing nothing', async () => {
      const { user, chat, question, answer } = await answered(1000);
      const before = await stateOf(user, chat);
      await expect(
        store.persistEdit(user, chat, question, 'Hi', 200, null, guard(answer.id, 'message_not_editable')),
      ).rejects.toMatchObject({ code: 'message_not_editable' });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses with the guard’s conflict, storing nothing, when the active leaf moved since the check', async () => {
      const { user, chat, answer } = await answered(1000);
      const second = await exchange(user, chat, 'Where to?');
      const before = await stateOf(user, chat);
      await expect(
        store.persistEdit(user, chat, second.question, 'Hi', 200, null, guard(answer.id, 'message_not_editable')),
      ).rejects.toMatchObject({ code: 'message_not_editable' });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses with insufficient_tokens, storing nothing, when the balance is one short', async () => {
      const { user, chat } = await answered(1000);
      const second = await exchange(user, chat, 'Where to?');
      const before = await stateOf(user, chat);
      await expect(
        store.persistEdit(
          user,
          chat,
          second.question,
          'Hi',
          701,
          null,
          guard(second.answer.id, 'message_not_editable'),
        ),
      ).rejects.toMatchObject({ code: 'insufficient_tokens' });
      expect(await stateOf(user, chat)).toEqual(before);
    });
  });

  describe('persistContinue', () => {
    it('reopens the same reply under its own segment, reserved and then settled on its own', async () => {
      const { user, chat, question, answer } = await answered(1000, { finishReason: 'max_tokens' });
      const record = await insertIdempotencyRecord(dataSource, user);
      const started = await store.persistContinue(user, chat, answer, 200, record);
      expect(started.segment).toBe(1);
      expect(started.assistant).toMatchObject({ id: answer.id, status: 'streaming', content: 'Ahoy.' });
      expect(started.assistant.metadata.continuing).toEqual({
        status: 'complete',
        errorCode: null,
        content: 'Ahoy.',
        promptTokens: 100,
        completionTokens: 50,
        attempts: 0,
        segment: 1,
      });
      expect(started.alternatives).toEqual(
        new Map([
          [answer.id, { index: 1, count: 1 }],
          [question.id, { index: 1, count: 1 }],
        ]),
      );
      expect(await balanceOf(dataSource, user)).toBe(650);
      expect(await treeOf(dataSource, chat)).toEqual(['1 user complete -', '2 assistant streaming 1']);
      expect(await activeLeafOf(dataSource, chat)).toBe(answer.id);
      expect(await replyOfRecord(dataSource, record)).toBe(answer.id);

      const done = await store.complete(
        user,
        chat,
        answer.id,
        200,
        reply({ content: 'Ahoy. Matey.', promptTokens: 120, completionTokens: 30 }),
        {},
        1,
      );
      expect(done.message).toMatchObject({ status: 'complete', content: 'Ahoy. Matey.', promptTokens: 220 });
      expect(done.message.completionTokens).toBe(80);
      expect(done.message.metadata).toMatchObject({ continuations: 1 });
      expect(done.message.metadata).not.toHaveProperty('continuing');
      expect(done.tokenBalance).toBe(700);
      expect(await ledgerOf(dataSource, answer.id)).toEqual([
        'reservation 0 -300',
        'settlement 0 150',
        'reservation 1 -200',
        'settlement 1 50',
      ]);
    });

    it('restores the reply when a continuation fails, releasing only its segment; the next takes a new one', async () => {
      const { user, chat, answer } = await answered(1000, { finishReason: 'max_tokens' });
      await store.persistContinue(user, chat, answer, 200, null);
      await store.fail(answer.id, 'provider_unavailable', {}, 1, null);
      expect(await statusOf(answer.id)).toEqual({ status: 'complete', content: 'Ahoy.', error_code: null });
      expect(await balanceOf(dataSource, user)).toBe(850);
      const again = await store.persistContinue(user, chat, answer, 200, null);
      expect(again.segment).toBe(2);
      expect(await ledgerOf(dataSource, answer.id)).toEqual([
        'reservation 0 -300',
        'settlement 0 150',
        'release 1 200',
        'reservation 1 -200',
        'reservation 2 -200',
      ]);
    });

    it('restores the reply when a continuation is stopped, releasing only its segment', async () => {
      const { user, chat, answer } = await answered(1000, { finishReason: 'max_tokens' });
      await store.persistContinue(user, chat, answer, 200, null);
      await store.checkpointMany([{ id: answer.id, text: 'Ahoy. Ma' }], []);
      const stopped = await store.cancel(answer.id, 'Ahoy. Mat');
      expect(stopped).toMatchObject({
        status: 'complete',
        content: 'Ahoy.',
        errorCode: null,
        promptTokens: 100,
        completionTokens: 50,
        attempts: 0,
      });
      expect(stopped?.metadata).not.toHaveProperty('continuing');
      expect(await balanceOf(dataSource, user)).toBe(850);
      expect(await ledgerOf(dataSource, answer.id)).toEqual([
        'reservation 0 -300',
        'settlement 0 150',
        'release 1 200',
        'reservation 1 -200',
      ]);
    });

    it('refuses with message_not_continuable, storing nothing, when the reply is no longer the active leaf', async () => {
      const { user, chat, answer } = await answered(1000, { finishReason: 'max_tokens' });
      await exchange(user, chat, 'Go on');
      const before = await stateOf(user, chat);
      await expect(store.persistContinue(user, chat, answer, 200, null)).rejects.toMatchObject({
        code: 'message_not_continuable',
      });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses a failed reply with message_not_continuable, keeping the tokens', async () => {
      const { user, chat, turn } = await sent(1000, 300);
      await store.fail(turn.assistant.id, 'provider_unavailable', {}, 1, null);
      const before = await stateOf(user, chat);
      await expect(store.persistContinue(user, chat, turn.assistant, 200, null)).rejects.toMatchObject({
        code: 'message_not_continuable',
      });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses with generation_in_progress while the chat has a running reply', async () => {
      const { user, chat, turn } = await sent(1000, 300);
      const before = await stateOf(user, chat);
      await expect(store.persistContinue(user, chat, turn.assistant, 200, null)).rejects.toMatchObject({
        code: 'generation_in_progress',
      });
      expect(await stateOf(user, chat)).toEqual(before);
    });

    it('refuses another user’s chat with chat_not_found', async () => {
      const { user, chat, answer } = await answered(1000, { finishReason: 'max_tokens' });
      const intruder = await insertUser(dataSource, 1000);
      const before = await stateOf(user, chat);
      await expect(store.persistContinue(intruder, chat, answer, 200, null)).rejects.toMatchObject({
        code: 'chat_not_found',
      });
      expect(await stateOf(user, chat)).toEqual(before);
      expect(await balanceOf(dataSource, intruder)).toBe(1000);
    });

    it('refuses with insufficient_tokens, leaving the reply as it was, when the balance is one short', async () => {
      const { user, chat, answer } = await answered(1000, { finishReason: 'max_tokens' });
      const before = await stateOf(user, chat);
      await expect(store.persistContinue(user, chat, answer, 851, null)).rejects.toMatchObject({
        code: 'insufficient_tokens',
      });
      expect(await stateOf(user, chat)).toEqual(before);
    });
  });

  describe('context, activeLeaf, promptPlan and onPath', () => {
    /** u1 a1 u2 a2, then a2 regenerated as a2' (complete): the active path is u1 a1 u2 a2'. */
    async function swiped() {
      const { user, chat, question, answer } = await answered(1000);
      const second = await exchange(user, chat, 'Where to?');
      const swipe = await store.persistRegenerate(
        user,
        chat,
        second.question.id,
        300,
        null,
        guard(second.answer.id, 'message_not_regenerable'),
      );
      await store.complete(user, chat, swipe.assistant.id, 300, reply({ content: 'Swiped.' }), {});
      return { user, chat, u1: question, a1: answer, u2: second.question, a2: second.answer, swipe: swipe.assistant };
    }

    it('reads the chat, its character and the active path up from the leaf, newest first, bounded', async () => {
      const { user, chat, a1, u2, swipe } = await swiped();
      const context = await store.context({ userId: user, tokenVersion: 0 }, chat, 3);
      expect(context.chat).toMatchObject({ id: chat, userId: user, activeLeafId: swipe.id, persona: null });
      expect(context.character.id).toBe(context.chat.characterId);
      expect(context.chat.character).toBe(context.character);
      expect(context.path.map((m) => m.id)).toEqual([swipe.id, u2.id, a1.id]);
      expect(context.path[0]).toMatchObject({ role: 'assistant', status: 'complete', content: 'Swiped.' });
      expect((await store.context({ userId: user, tokenVersion: 0 }, chat, 0)).path).toEqual([]);
    });

    it('reads the chat’s persona with it', async () => {
      const user = await insertUser(dataSource, 0);
      const chat = await insertChat(dataSource, user);
      await rowsOf(
        dataSource,
        `WITH p AS (INSERT INTO personas (user_id, name) VALUES ($1, 'Anne') RETURNING id)
         UPDATE chats SET persona_id = (SELECT id FROM p) WHERE id = $2`,
        [user, chat],
      );
      const context = await store.context({ userId: user, tokenVersion: 0 }, chat, 10);
      expect(context.chat.persona).toMatchObject({ name: 'Anne', userId: user });
      expect(context.path).toEqual([]);
    });

    it('refuses a stale token or a gone account with unauthenticated, another user’s chat with chat_not_found', async () => {
      const { user, chat } = await answered(1000);
      const other = await insertUser(dataSource, 0);
      await expect(store.context({ userId: user, tokenVersion: 1 }, chat, 10)).rejects.toMatchObject({
        code: 'unauthenticated',
      });
      await expect(store.context({ userId: randomUUID(), tokenVersion: 0 }, chat, 10)).rejects.toMatchObject({
        code: 'unauthenticated',
      });
      await expect(store.context({ userId: other, tokenVersion: 0 }, chat, 10)).rejects.toMatchObject({
        code: 'chat_not_found',
      });
    });

    it('answers the active leaf, or null for a chat without messages or no chat at all', async () => {
      const { chat, swipe } = await swiped();
      expect(await store.activeLeaf(chat)).toBe(swipe.id);
      const empty = await insertChat(dataSource, await insertUser(dataSource, 0));
      expect(await store.activeLeaf(empty)).toBeNull();
      expect(await store.activeLeaf(randomUUID())).toBeNull();
    });

    it('builds the prompt from exactly the path up from the given message, never a sibling branch', async () => {
      const { chat, u1, a1, u2, a2, swipe } = await swiped();
      const plan = await store.promptPlan(chat, { from: u2.id, window: 10 }, persona);
      expect(plan.includedMessageIds).toEqual([u1.id, a1.id, u2.id]);
      expect(plan.includedMessageIds).not.toContain(a2.id);
      expect(plan.omittedMessageIds).toEqual([]);
      expect(plan.messages).toEqual([
        { role: 'user', content: '  Hello there\nand more' },
        { role: 'assistant', content: 'Ahoy.' },
        { role: 'user', content: 'Where to?' },
      ]);
      expect(plan.systemInstruction).toBe('You are a pirate.\n\nYou opened this conversation with: "Ahoy!"');
      expect(plan.personaVersion).toBe('v1');
      const fromLeaf = await store.promptPlan(chat, { from: swipe.id, window: 10 }, persona);
      expect(fromLeaf.includedMessageIds).toEqual([u1.id, a1.id, u2.id, swipe.id]);
    });

    it('reads twice the window up the path and names what the window left out', async () => {
      const { user, chat, answer: a1 } = await answered(1000);
      const second = await exchange(user, chat, 'Where to?');
      const third = await exchange(user, chat, 'And then?');
      // Candidates: a3 u3 a2 u2 (four, twice the window); u1 and a1 are never read.
      const plan = await store.promptPlan(chat, { from: third.answer.id, window: 2 }, persona);
      expect(plan.includedMessageIds).toEqual([third.question.id, third.answer.id]);
      expect(plan.omittedMessageIds).toEqual([second.answer.id, second.question.id]);
      expect(plan.omittedMessageIds).not.toContain(a1.id);
    });

    it('leaves the greeting, failed and running replies and stopped replies without text out of the prompt', async () => {
      const user = await insertUser(dataSource, 10_000);
      const chat = await insertChat(dataSource, user);
      await rowsOf(
        dataSource,
        `WITH greeting AS (
           INSERT INTO messages (chat_id, seq, role, content, status, metadata)
           VALUES ($1, 1, 'assistant', 'Ahoy!', 'complete', '{"greeting": true}') RETURNING id
         )
         UPDATE chats SET last_seq = 1, active_leaf_id = (SELECT id FROM greeting) WHERE id = $1`,
        [chat],
      );
      const turn = (content: string) => store.persistSend(user, { id: chat, title: 'set' }, content, 300, null);
      const t1 = await turn('One');
      await store.cancel(t1.assistant.id, 'Stopped with text');
      const t2 = await turn('Two');
      await store.fail(t2.assistant.id, 'provider_unavailable', {}, 1, null);
      const t3 = await turn('Three');
      await store.cancel(t3.assistant.id, null);
      const t4 = await turn('Four');
      const plan = await store.promptPlan(chat, { from: t4.assistant.id, window: 10 }, persona);
      expect(plan.messages).toEqual([
        { role: 'user', content: 'One' },
        { role: 'assistant', content: 'Stopped with text' },
        { role: 'user', content: 'Two' },
        { role: 'user', content: 'Three' },
        { role: 'user', content: 'Four' },
      ]);
      expect(plan.omittedMessageIds).toEqual([t4.assistant.id, t3.assistant.id, t2.assistant.id]);
    });

    it('builds a prompt of only the next message when there is nothing before it', async () => {
      const { chat } = await answered(1000);
      const plan = await store.promptPlan(chat, { from: null, window: 10, next: 'First' }, persona);
      expect(plan.messages).toEqual([{ role: 'user', content: 'First' }]);
      expect(plan.includedMessageIds).toEqual([]);
    });

    it('tells whether a message is on the path up from a leaf, in that chat only', async () => {
      const { user, chat, u1, u2, a2, swipe } = await swiped();
      expect(await store.onPath(chat, swipe.id, u1)).toBe(true);
      expect(await store.onPath(chat, swipe.id, u2)).toBe(true);
      expect(await store.onPath(chat, swipe.id, swipe)).toBe(true);
      expect(await store.onPath(chat, swipe.id, a2)).toBe(false);
      expect(await store.onPath(chat, a2.id, swipe)).toBe(false);
      const elsewhere = await insertChat(dataSource, user);
      expect(await store.onPath(elsewhere, swipe.id, u1)).toBe(false);
    });
  });

  describe('checkpointMany', () => {
    it('saves text only to running replies and answers those still running', async () => {
      const first = await sent(1000, 300);
      const second = await sent(1000, 300);
      const done = await answered(1000);
      const running = await store.checkpointMany(
        [
          { id: first.reply, text: 'Hel' },
          { id: done.answer.id, text: 'Overwritten' },
        ],
        [second.reply, done.answer.id],
      );
      expect(running).toEqual(new Set([first.reply, second.reply]));
      expect(await statusOf(first.reply)).toEqual({ status: 'streaming', content: 'Hel', error_code: null });
      expect(await statusOf(second.reply)).toEqual({ status: 'pending', content: '', error_code: null });
      expect(await statusOf(done.answer.id)).toEqual({ status: 'complete', content: 'Ahoy.', error_code: null });
      await store.cancel(second.reply, null);
      expect(await store.checkpointMany([{ id: second.reply, text: 'Late' }], [second.reply])).toEqual(new Set());
      expect(await statusOf(second.reply)).toMatchObject({ status: 'cancelled', content: '' });
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
      const [row] = await rowsOf<{ attempts: number }>(dataSource, 'SELECT attempts FROM messages WHERE id = $1', [id]);
      expect(row!.attempts).toBe(2);
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
