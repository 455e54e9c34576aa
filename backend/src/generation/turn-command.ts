/**
 * What the caller asks for: a new message, another reply to an existing one, a new version of a
 * user message (with a reply to it), or more of a reply cut short (specs/009-conversation-tree).
 */
export type TurnCommand =
  | { kind: 'send'; chatId: string; content: string }
  | { kind: 'regenerate'; chatId: string; messageId: string }
  | { kind: 'edit'; chatId: string; messageId: string; content: string }
  | { kind: 'continue'; chatId: string; messageId: string };

/**
 * Who asks, and what of the request the turn needs, whatever the transport (HTTP JSON, HTTP
 * server-sent events, and later a socket): read once at the edge, so no stage sees a request.
 */
export interface TurnRequest {
  userId: string;
  /**
   * The version the caller's token was issued at: the generating routes check it against the
   * account's in their own statements (`@TokenVersionCheckedByHandler()`), not in the guard.
   */
  tokenVersion: number;
  requestId: string;
  acceptLanguage: string | undefined;
  /** The raw `Idempotency-Key` header, validated by the pipeline. */
  idempotencyKey: string | string[] | undefined;
  /** The raw `Last-Event-ID` header: where a repeated streaming request resumes. */
  lastEventId: string | string[] | undefined;
  /** The raw `X-Debug-Force-Error` header: a development fault, honoured only where enabled. */
  debugFault: string | string[] | undefined;
}
