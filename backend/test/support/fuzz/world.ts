/** A chat of a fixture account, with the ids of its messages as the fuzzer has seen them. */
export interface ChatFixture {
  id: string;
  greetingId: string;
  userMessageIds: string[];
  /** Generated replies (assistant messages answering a user message), oldest first. */
  replyIds: string[];
}

/** A turn an Idempotency-Key was used for: enough to repeat the same request, or another one. */
export interface KeyedTurn {
  key: string;
  kind: 'send' | 'regenerate';
  chatId: string;
  content?: string;
  messageId?: string;
  /** The reply the turn produced, once seen. */
  replyId?: string;
}

export interface Account {
  name: string;
  id: string;
  email: string;
  password: string;
  token: string;
  chats: ChatFixture[];
  deletedChatIds: string[];
  cursors: string[];
  /** Keys of turns that started, with what they were used for. */
  keys: KeyedTurn[];
}

interface TurnMessages {
  userMessage?: { id?: unknown; chatId?: unknown };
  assistantMessage?: { id?: unknown };
}

const KEEP = 20;

/**
 * What the fuzzer knows of the server's data: two accounts (so every id can also be someone
 * else's), their chats and messages, cursors and event ids seen in responses. Kept up to date
 * from the responses themselves, so path ids are real, foreign, deleted or random by choice.
 */
export class World {
  readonly accounts: Account[] = [];
  /**
   * The account `signOutEverywhere` acts on, apart from the others: once it answered 204 its
   * token is refused (`revoked`) until the runner signs it in again, between batches.
   */
  revocable?: Account;
  revoked = false;
  characters: string[] = [];
  /** Accounts created by valid `register` calls (credentials only), for valid `login` calls. */
  readonly registered: Array<{ email: string; password: string }> = [];
  /** Reply id → ids of the stream events seen for it. */
  readonly eventIds = new Map<string, string[]>();

  other(account: Account): Account {
    return this.accounts.find((a) => a !== account) ?? account;
  }

  chat(chatId: string): ChatFixture | undefined {
    for (const account of this.accounts) {
      const found = account.chats.find((c) => c.id === chatId);
      if (found) return found;
    }
    return undefined;
  }

  addChat(account: Account, chat: { id: string; lastMessage?: { id: string } | null }): void {
    if (account.chats.some((c) => c.id === chat.id)) return;
    account.chats.push({ id: chat.id, greetingId: chat.lastMessage?.id ?? chat.id, userMessageIds: [], replyIds: [] });
  }

  removeChat(account: Account, chatId: string): void {
    const index = account.chats.findIndex((c) => c.id === chatId);
    if (index === -1) return;
    account.chats.splice(index, 1);
    account.deletedChatIds.push(chatId);
  }

  /** A turn's two messages, from a `TurnResult` or a `turn_started` event. */
  addTurn(turn: TurnMessages): void {
    const chatId = turn.userMessage?.chatId;
    const userId = turn.userMessage?.id;
    const replyId = turn.assistantMessage?.id;
    if (typeof chatId !== 'string' || typeof userId !== 'string' || typeof replyId !== 'string') return;
    const chat = this.chat(chatId);
    if (!chat) return;
    if (!chat.userMessageIds.includes(userId)) chat.userMessageIds.push(userId);
    if (!chat.replyIds.includes(replyId)) chat.replyIds.push(replyId);
  }

  addEventId(replyId: string, eventId: string): void {
    const seen = this.eventIds.get(replyId) ?? [];
    if (!seen.includes(eventId)) seen.push(eventId);
    this.eventIds.set(replyId, seen.slice(-KEEP));
  }

  addCursor(account: Account, cursor: string): void {
    account.cursors.push(cursor);
    if (account.cursors.length > KEEP) account.cursors.shift();
  }

  addKey(account: Account, turn: KeyedTurn): void {
    if (account.keys.some((k) => k.key === turn.key)) return;
    account.keys.push(turn);
    if (account.keys.length > 200) account.keys.shift();
  }
}

export function sameTurn(a: Omit<KeyedTurn, 'key' | 'replyId'>, b: Omit<KeyedTurn, 'key' | 'replyId'>): boolean {
  return a.kind === b.kind && a.chatId === b.chatId && a.content === b.content && a.messageId === b.messageId;
}
