import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import type { ErrorCode } from '../errors/error-codes.js';

// Failures that say the upstream is unwell. Input errors, balance, moderation and the user's own
// stop say nothing about it and never move a breaker.
const UNHEALTHY: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'provider_rate_limited',
  'provider_unavailable',
  'provider_timeout',
  'provider_empty_response',
  'stream_stalled',
  'no_provider_available',
  'turn_timeout',
]);

export function countsAgainstBreaker(error: unknown): boolean {
  if (error instanceof ProviderError || error instanceof AppError) return UNHEALTHY.has(error.code);
  return false;
}
