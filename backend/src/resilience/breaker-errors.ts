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

// Failures injected on purpose (development fault injection): they say nothing about any
// provider or chat, so no breaker counts them.
const forced = new WeakSet<object>();

/** Marks an error as injected on purpose; breakers never count it. */
export function markForced<E extends Error>(error: E): E {
  forced.add(error);
  return error;
}

export function countsAgainstBreaker(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && forced.has(error)) return false;
  if (error instanceof ProviderError || error instanceof AppError) return UNHEALTHY.has(error.code);
  return false;
}
