/**
 * This file was generated from contracts/realtime.asyncapi.yaml by packages/api-types/scripts/realtime.mjs.
 * Do not make direct changes to the file: edit the contract and run `npm run generate`.
 */

import type { components } from './schema.js';

type HttpSchemas = components['schemas'];

/**
 * A client's id for one of its frames, echoed as `ref` in the answers to it.
 */
export type ClientRef = string;
/**
 * An event's number in the user's sequence (1, 2, 3… on every instance).
 */
export type Seq = number;
export type ChatId = HttpSchemas['Uuid'];

export interface HelloFrame {
  type: 'hello';
  /**
   * The access token (`AuthResponse.accessToken`).
   */
  token: string;
  /**
   * The highest `seq` already received; the events after it are sent first.
   */
  lastSeq?: number;
  /**
   * Chats to subscribe to at once (before missed events are sent).
   *
   * @maxItems 100
   */
  subscribe?: ChatId[];
  /**
   * The language of error messages (as `Accept-Language`); the upgrade request's header otherwise.
   */
  language?: string;
}
export interface SubscribeFrame {
  type: 'subscribe';
  id?: ClientRef;
  chatId: ChatId;
}
export interface UnsubscribeFrame {
  type: 'unsubscribe';
  id?: ClientRef;
  chatId: ChatId;
}
export interface SendFrame {
  type: 'send';
  id: ClientRef;
  chatId: ChatId;
  /**
   * The user's message: 1 to 8000 characters (Unicode code points), with at least one
   * that is not white space, and no NUL character or lone surrogate.
   *
   */
  content: string;
  /**
   * As the `Idempotency-Key` header of `sendMessageStream`; a repeat follows the first reply.
   */
  idempotencyKey: string;
  /**
   * On a repeat, the `id` of the last `turn` frame received; the turn resumes after it.
   */
  lastEventId?: HttpSchemas['EventId'];
}
export interface StopFrame {
  type: 'stop';
  id: ClientRef;
  chatId: ChatId;
  messageId: HttpSchemas['Uuid'];
}
export interface PingFrame {
  type: 'ping';
  id?: ClientRef;
}
export interface ReadyFrame {
  type: 'ready';
  userId: HttpSchemas['Uuid'];
  /**
   * The events after this one follow: `lastSeq` when it was sent and could be honoured,
   * otherwise the user's latest event (0 before the first).
   *
   */
  seq: number;
  /**
   * The events after `lastSeq` are no longer kept; reload what you show over HTTP.
   */
  resync: boolean;
  heartbeatIntervalMs: number;
}
export interface ResyncFrame {
  type: 'resync';
  /**
   * Events continue after this one; reload what you show over HTTP.
   */
  seq: number;
}
export interface SubscribedFrame {
  type: 'subscribed';
  ref?: ClientRef;
  chatId: ChatId;
}
export interface UnsubscribedFrame {
  type: 'unsubscribed';
  ref?: ClientRef;
  chatId: ChatId;
}
export interface TurnFrame {
  type: 'turn';
  ref: ClientRef;
  id: HttpSchemas['EventId'];
  /**
   * The turn's event, as the `data` of `sendMessageStream`'s events; `done` or `error` ends it.
   */
  event:
    | HttpSchemas['TurnStartedEvent']
    | HttpSchemas['ProviderEvent']
    | HttpSchemas['RetryEvent']
    | HttpSchemas['DeltaEvent']
    | HttpSchemas['ToolCallEvent']
    | HttpSchemas['ToolResultEvent']
    | HttpSchemas['DoneEvent']
    | HttpSchemas['ErrorEvent'];
}
export interface StoppedFrame {
  type: 'stopped';
  ref: ClientRef;
  message: HttpSchemas['Message'];
}
export interface ErrorFrame {
  type: 'error';
  /**
   * The `id` of the frame this answers; null when it had none (or could not be read).
   */
  ref: ClientRef | null;
  problem: HttpSchemas['Problem'];
}
export interface PongFrame {
  type: 'pong';
  ref?: ClientRef;
}
export interface ChatCreatedEvent {
  type: 'chat.created';
  seq: Seq;
  chat: HttpSchemas['Chat'];
}
export interface ChatRenamedEvent {
  type: 'chat.renamed';
  seq: Seq;
  chat: HttpSchemas['Chat'];
}
export interface ChatTitleUpdatedEvent {
  type: 'chat.title_updated';
  seq: Seq;
  chatId: ChatId;
  title: string;
}
export interface ChatDeletedEvent {
  type: 'chat.deleted';
  seq: Seq;
  chatId: ChatId;
}
export interface MessageCreatedEvent {
  type: 'message.created';
  seq: Seq;
  chatId: ChatId;
  message: HttpSchemas['Message'];
}
export interface MessageUpdatedEvent {
  type: 'message.updated';
  seq: Seq;
  chatId: ChatId;
  message: HttpSchemas['Message'];
}
export interface MessageDeletedEvent {
  type: 'message.deleted';
  seq: Seq;
  chatId: ChatId;
  /**
   * Every message deleted (the message named in `deleteMessage` and its subtree).
   *
   * @minItems 1
   */
  messageIds: [HttpSchemas['Uuid'], ...HttpSchemas['Uuid'][]];
}
export interface ChatPathChangedEvent {
  type: 'chat.path_changed';
  seq: Seq;
  chatId: ChatId;
  /**
   * The chat's new `activeLeafId`.
   */
  activeLeafId: string | null;
  /**
   * The chat's new last-message preview (the new active leaf, as `Chat.lastMessage`),
   * so a chat list follows without another request. Present on events published since
   * this field was added.
   *
   */
  lastMessage?: HttpSchemas['MessagePreview'] | null;
  /**
   * The chat's `updatedAt` after the change (a list ordered by it moves the chat only
   * when this changed: a regenerate or an edit, not a select or a delete). Present on
   * events published since this field was added.
   *
   */
  updatedAt?: string;
  branch?: PathBranch;
}
/**
 * Where the new active path leaves the old one: its first message that was not on the old
 * path (the regenerated reply, the edited user message, the version selected or the
 * sibling a delete moved to), with its place among its siblings, so a client shows
 * ‹ n/m › there without another request. Absent when the path only got shorter (a delete
 * that moved the leaf to the deleted message's parent) and on events published before
 * this field was added.
 *
 */
export interface PathBranch {
  messageId: HttpSchemas['Uuid'];
  parentId: string | null;
  alternatives: HttpSchemas['Alternatives'];
}
export interface ReplyDeltaEvent {
  type: 'reply.delta';
  seq: Seq;
  chatId: ChatId;
  messageId: HttpSchemas['Uuid'];
  /**
   * Characters (UTF-16 code units) of the reply before this text.
   */
  offset: number;
  text: string;
}
export interface BalanceChangedEvent {
  type: 'balance.changed';
  seq: Seq;
  /**
   * The balance after the change.
   */
  tokenBalance: number;
}

/** A frame a client sends (`receiveClientFrame`). */
export type ClientFrame = HelloFrame | SubscribeFrame | UnsubscribeFrame | SendFrame | StopFrame | PingFrame;
/** A frame the server sends (`sendServerFrame`). */
export type ServerFrame =
  | ReadyFrame
  | ResyncFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | TurnFrame
  | StoppedFrame
  | ErrorFrame
  | PongFrame
  | ChatCreatedEvent
  | ChatRenamedEvent
  | ChatTitleUpdatedEvent
  | ChatDeletedEvent
  | MessageCreatedEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | ChatPathChangedEvent
  | ReplyDeltaEvent
  | BalanceChangedEvent;
/** The user's events: the server frames with a `seq`. */
export type RealtimeEvent =
  | ChatCreatedEvent
  | ChatRenamedEvent
  | ChatTitleUpdatedEvent
  | ChatDeletedEvent
  | MessageCreatedEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | ChatPathChangedEvent
  | ReplyDeltaEvent
  | BalanceChangedEvent;
/** The close codes of the socket, by name (`x-close-codes`). */
export type RealtimeCloseCodes = {
  normal: 1000;
  going_away: 1001;
  frame_too_large: 1009;
  server_error: 1011;
  unauthorized: 4401;
  token_expired: 4403;
  hello_timeout: 4408;
  resync: 4409;
  too_many_connections: 4429;
};
