import { AppError } from '../errors/app-error.js';
import { ERROR_SPECS, type ErrorCode } from '../errors/error-codes.js';
import { ProviderError } from '../providers/provider.port.js';
import { countsAgainstBreaker, markForced } from './breaker-errors.js';

// Which failures move a chat's breaker: only those that say the upstream is unwell.
const UNHEALTHY: ErrorCode[] = [
  'provider_rate_limited',
  'provider_unavailable',
  'provider_timeout',
  'provider_empty_response',
  'stream_stalled',
  'no_provider_available',
  'turn_timeout',
];

describe(countsAgainstBreaker.name, () => {
  it.each(UNHEALTHY)('counts %s, from us or from a provider', (code) => {
    expect(countsAgainstBreaker(new AppError(code))).toBe(true);
    expect(countsAgainstBreaker(new ProviderError(code as never, 'demo', { retryable: true }))).toBe(true);
  });

  it('counts no other code of the taxonomy', () => {
    const others = (Object.keys(ERROR_SPECS) as ErrorCode[]).filter((code) => !UNHEALTHY.includes(code));
    expect(others.length).toBeGreaterThan(20);
    for (const code of others) expect(countsAgainstBreaker(new AppError(code))).toBe(false);
    expect(countsAgainstBreaker(new ProviderError('provider_invalid_request', 'demo', { retryable: false }))).toBe(
      false,
    );
    expect(countsAgainstBreaker(new ProviderError('provider_quota_exhausted', 'demo', { retryable: false }))).toBe(
      false,
    );
  });

  it('never counts a failure injected on purpose, nor what is not one of ours', () => {
    expect(countsAgainstBreaker(markForced(new AppError('provider_unavailable')))).toBe(false);
    expect(countsAgainstBreaker(markForced(new ProviderError('provider_timeout', 'demo', { retryable: true })))).toBe(
      false,
    );
    // Marking one error does not mark another of the same code.
    expect(countsAgainstBreaker(new AppError('provider_unavailable'))).toBe(true);
    expect(countsAgainstBreaker(Object.assign(new Error('x'), { code: 'provider_unavailable' }))).toBe(false);
    expect(countsAgainstBreaker({ code: 'provider_unavailable' })).toBe(false);
    expect(countsAgainstBreaker('provider_unavailable')).toBe(false);
    expect(countsAgainstBreaker(null)).toBe(false);
    expect(countsAgainstBreaker(undefined)).toBe(false);
  });

  it('returns the error it marks', () => {
    const error = new AppError('provider_unavailable');
    expect(markForced(error)).toBe(error);
  });
});
