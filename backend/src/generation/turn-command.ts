/** What the caller asks for: a new message, or another reply to an existing one. */
export type TurnCommand =
  { kind: 'send'; chatId: string; content: string } | { kind: 'regenerate'; chatId: string; messageId: string };

/**
 * Who asks, and what of the request the turn needs, whatever the transport (HTTP JSON, HTTP
 * server-sent events, and later a socket): read once at the edge, so no stage sees a request.
 */
export interface TurnRequest {
  userId: string;
  requestId: string;
  acceptLanguage: string | undefined;
  /** The raw `Idempotency-Key` header, validated by the pipeline. */
  idempotencyKey: string | string[] | undefined;
  /** The raw `Last-Event-ID` header: where a repeated streaming request resumes. */
  lastEventId: string | string[] | undefined;
  /** The raw `X-Debug-Force-Error` header: a development fault, honoured only where enabled. */
  debugFault: string | string[] | undefined;
}
