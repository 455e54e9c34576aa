import type { ErrorCode } from '@parley/api-types';

export type { ErrorCode };

export interface ErrorSpec {
  status: 400 | 401 | 402 | 403 | 404 | 408 | 409 | 413 | 415 | 422 | 429 | 500 | 503 | 504;
  retryable: boolean;
}

// The one map from the contract's error codes to HTTP. Typed as a Record over the contract's
// enum, so a code added to the contract does not compile until it is mapped here.
export const ERROR_SPECS: Record<ErrorCode, ErrorSpec> = {
  validation_failed: { status: 400, retryable: false },
  malformed_json: { status: 400, retryable: false },
  card_unreadable: { status: 400, retryable: false },
  card_spec_unsupported: { status: 400, retryable: false },
  image_unsupported: { status: 400, retryable: false },
  image_too_large: { status: 400, retryable: false },
  reset_token_invalid: { status: 400, retryable: false },
  unauthenticated: { status: 401, retryable: false },
  invalid_credentials: { status: 401, retryable: false },
  insufficient_tokens: { status: 402, retryable: false },
  password_incorrect: { status: 403, retryable: false },
  route_not_found: { status: 404, retryable: false },
  character_not_found: { status: 404, retryable: false },
  chat_not_found: { status: 404, retryable: false },
  persona_not_found: { status: 404, retryable: false },
  avatar_not_found: { status: 404, retryable: false },
  memory_entry_not_found: { status: 404, retryable: false },
  message_not_found: { status: 404, retryable: false },
  email_taken: { status: 409, retryable: false },
  generation_in_progress: { status: 409, retryable: false },
  message_not_regenerable: { status: 409, retryable: false },
  idempotency_key_in_flight: { status: 409, retryable: true },
  turn_cancelled: { status: 409, retryable: false },
  message_not_cancellable: { status: 409, retryable: false },
  message_not_editable: { status: 409, retryable: false },
  message_not_continuable: { status: 409, retryable: false },
  message_not_deletable: { status: 409, retryable: false },
  request_timeout: { status: 408, retryable: true },
  payload_too_large: { status: 413, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  idempotency_key_reused: { status: 422, retryable: false },
  content_blocked: { status: 422, retryable: false },
  rate_limited: { status: 429, retryable: true },
  provider_rate_limited: { status: 429, retryable: true },
  provider_quota_exhausted: { status: 429, retryable: false },
  internal_error: { status: 500, retryable: false },
  provider_unavailable: { status: 503, retryable: true },
  provider_empty_response: { status: 503, retryable: true },
  provider_invalid_request: { status: 503, retryable: false },
  no_provider_available: { status: 503, retryable: true },
  breaker_open: { status: 503, retryable: true },
  database_unavailable: { status: 503, retryable: true },
  shutting_down: { status: 503, retryable: true },
  turn_interrupted: { status: 503, retryable: true },
  provider_timeout: { status: 504, retryable: true },
  stream_stalled: { status: 504, retryable: true },
  turn_timeout: { status: 504, retryable: true },
};
