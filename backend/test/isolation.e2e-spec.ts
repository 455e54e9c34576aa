import { randomUUID } from 'node:crypto';
import type { TurnResult } from '@parley/api-types';
import {
  HTTP_METHODS,
  loadContractDocument,
  resolveRef,
  type OperationObject,
  type ParameterObject,
} from '../src/contract/contract-document.js';
import { TurnStore } from '../src/generation/turn.store.js';
import { ChatMemoryEntity } from '../src/tools/chat-memory.entity.js';
import { plainPng } from './support/cards.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

/** An operation of the contract that names a chat or a message of the caller in its path. */
interface OwnedOperation {
  operationId: string;
  method: (typeof HTTP_METHODS)[number];
  path: string;
  /** JSON, or an image for an upload (an operation that takes no JSON body). */
  body: unknown;
  /** Required headers, e.g. the streaming operations' Idempotency-Key. */
  headers: () => Record<string, string>;
}

// Path parameters that name something a user owns. A new one (a tree node, a tool call) is added
// here once, and every operation taking it is then walked.
const OWNED_PARAMETERS = new Set(['chatId', 'messageId', 'entryId', 'characterId', 'personaId']);

/** Every operation of the contract with an owned id in its path, with the example body it takes. */
function ownedOperations(): OwnedOperation[] {
  const document = loadContractDocument();
  const operations: OwnedOperation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    const shared = ((item.parameters ?? []) as Array<ParameterObject | { $ref: string }>).map((p) =>
      resolveRef<ParameterObject>(document, p),
    );
    for (const method of HTTP_METHODS) {
      const operation = item[method] as OperationObject | undefined;
      if (!operation) continue;
      const parameters = [
        ...shared,
        ...(operation.parameters ?? []).map((p) => resolveRef<ParameterObject>(document, p)),
      ];
      const owned = parameters.filter((p) => p.in === 'path' && OWNED_PARAMETERS.has(p.name));
      // A public operation (the built-in catalogue's getCharacter) serves no one's own things.
      const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
      if (owned.length === 0 || isPublic) continue;
      const headers = parameters.filter((p) => p.in === 'header' && p.required);
      operations.push({
        operationId: operation.operationId,
        method,
        path,
        body: exampleBody(document, operation),
        // A fresh key per call, so no call replays another; other headers take the contract's example.
        headers: () =>
          Object.fromEntries(
            headers.map((p) => [p.name, p.name === 'Idempotency-Key' ? randomUUID() : exampleOf(operation, p)]),
          ),
      });
    }
  }
  return operations;
}

/** The body of an upload operation: an image rather than JSON. */
const UPLOAD = Symbol('upload');

function exampleOf(operation: OperationObject, parameter: ParameterObject & { example?: unknown }): string {
  if (parameter.example === undefined) {
    throw new Error(`${operation.operationId}: header ${parameter.name} needs an example for the isolation walk`);
  }
  return String(parameter.example);
}

// The body is the contract's own example, so an operation added with a body is walked without
// anyone writing one here (and an operation whose body has no example fails, asking for one).
function exampleBody(document: ReturnType<typeof loadContractDocument>, operation: OperationObject): unknown {
  if (!operation.requestBody) return undefined;
  const requestBody = resolveRef<{
    content: Record<string, { example?: unknown; examples?: Record<string, unknown> }>;
  }>(document, operation.requestBody as { $ref: string });
  const media = requestBody.content['application/json'];
  // An upload (an avatar) takes an image, no JSON: a small PNG of its own.
  if (!media && requestBody.content['image/png']) return UPLOAD;
  if (media?.example !== undefined) return media.example;
  const first = Object.values(media?.examples ?? {})[0];
  if (first !== undefined) return resolveRef<{ value: unknown }>(document, first as { value: unknown }).value;
  throw new Error(`${operation.operationId}: its request body needs an example for the isolation walk`);
}

describe('Isolation between users, for every operation on something a user owns', () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '1000000' });
  const operations = ownedOperations();
  let png: Buffer;
  beforeAll(async () => {
    png = await plainPng();
  });

  const call = (operation: OwnedOperation, token: string, ids: Record<string, string>) => {
    const url = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const id = ids[name];
      if (!id) throw new Error(`${operation.operationId}: no id for {${name}}`);
      return id;
    });
    const pending = t()
      .http[operation.method](url)
      .set({ ...operation.headers(), Authorization: `Bearer ${token}` });
    if (operation.body === undefined) return pending;
    return operation.body === UPLOAD
      ? pending.set('Content-Type', 'image/png').send(png)
      : pending.send(operation.body as object);
  };

  it('finds the operations in the contract (a route added there is walked here)', () => {
    expect(operations.map((o) => o.operationId)).toEqual(
      expect.arrayContaining([
        'getChat',
        'updateChat',
        'deleteChat',
        'listMessages',
        'sendMessage',
        'sendMessageStream',
        'regenerateMessage',
        'regenerateMessageStream',
        'cancelMessage',
        'followMessage',
        'getMessageManifest',
        'editMessage',
        'editMessageStream',
        'continueMessage',
        'continueMessageStream',
        'selectMessage',
        'deleteMessage',
        'forkChat',
        'listAlternatives',
        'getMyCharacter',
        'updateCharacter',
        'deleteCharacter',
        'exportCharacter',
        'setCharacterAvatar',
        'updatePersona',
        'deletePersona',
      ]),
    );
  });

  it("answers 404 to another signed-in user on each of them, and changes nothing of the owner's", async () => {
    const owner = await registerUser(t());
    const intruder = await registerUser(t());
    const chat = await createChat(t(), owner.accessToken);
    const turn = (
      await t()
        .http.post(`/api/v1/chats/${chat.id}/messages`)
        .set('Authorization', `Bearer ${owner.accessToken}`)
        .send({ content: 'Tell me about the ice moon' })
        .expect(201)
    ).body as TurnResult;
    // A reply still pending too (its tokens reserved, no process running it): what a stop or a
    // follow is for.
    const { assistant: pending } = await t()
      .app.get(TurnStore)
      .persistSend(owner.user.id, { id: chat.id, title: chat.title }, 'And the rings?', 100, null);
    const entryId = await memoryEntry(chat.id);
    const { characterId, personaId } = await ownedBy(owner.accessToken);
    const before = await snapshot(chat.id, characterId, personaId);
    const balances = async () =>
      Promise.all(
        [owner, intruder].map(
          async (user) =>
            (await t().http.get('/api/v1/me').set('Authorization', `Bearer ${user.accessToken}`)).body.tokenBalance,
        ),
      );
    const balancesBefore = await balances();

    const answers: Array<{ operationId: string; messageId: string; status: number; code: unknown }> = [];
    for (const operation of operations) {
      for (const messageId of [turn.assistantMessage.id, pending.id]) {
        const response = await call(operation, intruder.accessToken, {
          chatId: chat.id,
          messageId,
          entryId,
          characterId,
          personaId,
        });
        answers.push({
          operationId: operation.operationId,
          messageId,
          status: response.status,
          code: response.body?.code,
        });
      }
    }
    expect(answers).toEqual(
      answers.map(({ operationId, messageId }) => ({
        operationId,
        messageId,
        status: 404,
        code: expect.stringMatching(/^(chat|message|character|persona)_not_found$/),
      })),
    );
    expect(await snapshot(chat.id, characterId, personaId)).toEqual(before);
    expect(await balances()).toEqual(balancesBefore);
  });

  it('lets the owner reach each of them with the same ids (so the 404s above were about the owner)', async () => {
    const owner = await registerUser(t());
    const chat = await createChat(t(), owner.accessToken);
    const turn = (
      await t()
        .http.post(`/api/v1/chats/${chat.id}/messages`)
        .set('Authorization', `Bearer ${owner.accessToken}`)
        .send({ content: 'Tell me about the ice moon' })
        .expect(201)
    ).body as TurnResult;
    const entryId = await memoryEntry(chat.id);
    const { characterId, personaId } = await ownedBy(owner.accessToken);
    // Deleting goes last: it would take the chat, the message or the character from the others;
    // the deeper path first (a message before its chat), the chat last of all.
    const depth = (o: OwnedOperation) => o.path.split('/').length;
    const ordered = [...operations].sort(
      (a, b) =>
        Number(a.method === 'delete') - Number(b.method === 'delete') ||
        (a.method === 'delete' ? depth(b) - depth(a) : 0),
    );
    const answers: Array<{ operationId: string; status: number; code: unknown }> = [];
    for (const operation of ordered) {
      const response = await call(operation, owner.accessToken, {
        chatId: chat.id,
        messageId: turn.assistantMessage.id,
        entryId,
        characterId,
        personaId,
      });
      answers.push({ operationId: operation.operationId, status: response.status, code: response.body?.code });
    }
    // Reached: done, or refused for what the message is (not a reply any more, not running, a
    // reply rather than a user message, a reply that was not cut short).
    const outcomes = answers.map(({ operationId, status, code }) => ({
      operationId,
      outcome: status >= 200 && status < 300 ? 'done' : `${status} ${String(code)}`,
    }));
    expect(outcomes).toEqual(
      outcomes.map(({ operationId }) => ({
        operationId,
        outcome: expect.stringMatching(/^(done|409 message_not_(cancellable|regenerable|editable|continuable))$/),
      })),
    );
  });

  /** One entry of the chat's memory (as the `remember` tool would write it). */
  async function memoryEntry(chatId: string): Promise<string> {
    const entry = await t()
      .dataSource.getRepository(ChatMemoryEntity)
      .save({ chatId, content: 'The ice moon is called Hollow.', messageId: null, toolCallId: null });
    return entry.id;
  }

  /** A character and a persona of the user's own. */
  async function ownedBy(token: string): Promise<{ characterId: string; personaId: string }> {
    const character = await t()
      .http.post('/api/v1/me/characters')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'Ada the Archivist', firstMessage: 'Welcome to the archive.' })
      .expect(201);
    const persona = await t()
      .http.post('/api/v1/me/personas')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'Sam', description: 'A ship’s cook.' })
      .expect(201);
    return { characterId: character.body.id as string, personaId: persona.body.id as string };
  }

  async function snapshot(chatId: string, characterId: string, personaId: string): Promise<unknown> {
    return {
      character: await t().dataSource.query('SELECT * FROM characters WHERE id = $1', [characterId]),
      persona: await t().dataSource.query('SELECT * FROM personas WHERE id = $1', [personaId]),
      chat: await t().dataSource.query('SELECT title, last_seq, updated_at FROM chats WHERE id = $1', [chatId]),
      messages: await t().dataSource.query(
        'SELECT id, seq, role, content, status, error_code FROM messages WHERE chat_id = $1 ORDER BY seq',
        [chatId],
      ),
      ledger: await t().dataSource.query(
        `SELECT kind, amount FROM token_ledger WHERE message_id IN (SELECT id FROM messages WHERE chat_id = $1)
         ORDER BY kind, amount`,
        [chatId],
      ),
      memory: await t().dataSource.query('SELECT id, content FROM chat_memory WHERE chat_id = $1 ORDER BY id', [
        chatId,
      ]),
    };
  }
});
