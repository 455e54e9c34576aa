import type { ErrorCode } from '@parley/api-types';
import { ApiError, NetworkError } from '@parley/client';
import type { MessageKey } from '../i18n/i18n';

/** What the UI knows about a failure: a stable code to branch on, and what to offer. */
export interface ErrorInfo {
  /** The contract's error code, `network` when no answer came, `unexpected` otherwise. */
  code: ErrorCode | 'network' | 'unexpected';
  /** A UI string chosen by code, or null to show the server's (already localized) message. */
  messageKey: MessageKey | null;
  serverMessage: string | null;
  status: number | null;
  /** Whether trying the same thing again can succeed. */
  retryable: boolean;
  /** Seconds to wait before retrying, from the problem or `Retry-After`. */
  retryAfterSeconds: number | null;
  requestId: string | null;
}

// The failures a person chatting meets, each said in the UI's words. Other codes (validation,
// not found, …) show the server's localized message.
const MESSAGES: Partial<Record<ErrorInfo['code'], MessageKey>> = {
  network: 'errors.code.network',
  rate_limited: 'errors.code.rate_limited',
  provider_rate_limited: 'errors.code.provider_rate_limited',
  provider_quota_exhausted: 'errors.code.provider_quota_exhausted',
  provider_unavailable: 'errors.code.provider_unavailable',
  provider_empty_response: 'errors.code.provider_unavailable',
  no_provider_available: 'errors.code.provider_unavailable',
  breaker_open: 'errors.code.breaker_open',
  provider_timeout: 'errors.code.timeout',
  stream_stalled: 'errors.code.timeout',
  turn_timeout: 'errors.code.timeout',
  turn_interrupted: 'errors.code.turn_interrupted',
  content_blocked: 'errors.code.content_blocked',
  insufficient_tokens: 'errors.code.insufficient_tokens',
  database_unavailable: 'errors.code.unavailable',
  shutting_down: 'errors.code.unavailable',
  generation_in_progress: 'errors.code.generation_in_progress',
  internal_error: 'errors.code.internal_error',
  unexpected: 'errors.unexpected',
};

// Retrying cannot help these: the input, the balance or the provider's quota must change first.
const FINAL: ReadonlySet<ErrorInfo['code']> = new Set([
  'content_blocked',
  'insufficient_tokens',
  'provider_quota_exhausted',
  'provider_invalid_request',
  'validation_failed',
  'malformed_json',
  'payload_too_large',
  'unsupported_media_type',
  'chat_not_found',
  'message_not_found',
  'message_not_regenerable',
  'message_not_cancellable',
  'idempotency_key_reused',
  'unauthenticated',
  'invalid_credentials',
  'email_taken',
  'character_not_found',
  'route_not_found',
  'turn_cancelled',
]);

export function describeError(error: unknown): ErrorInfo {
  if (error instanceof NetworkError) {
    return {
      code: 'network',
      messageKey: MESSAGES.network!,
      serverMessage: null,
      status: null,
      retryable: true,
      retryAfterSeconds: null,
      requestId: null,
    };
  }
  if (error instanceof ApiError) {
    const code = error.code ?? 'unexpected';
    return {
      code,
      // Without a problem body the status says the most.
      messageKey: error.code ? (MESSAGES[error.code] ?? null) : null,
      serverMessage: error.problem?.message ?? null,
      status: error.status,
      retryable: error.problem ? error.problem.retryable || !FINAL.has(code) : error.status >= 500,
      retryAfterSeconds: error.retryAfterSeconds,
      requestId: error.requestId,
    };
  }
  return {
    code: 'unexpected',
    messageKey: MESSAGES.unexpected!,
    serverMessage: null,
    status: null,
    retryable: true,
    retryAfterSeconds: null,
    requestId: null,
  };
}
