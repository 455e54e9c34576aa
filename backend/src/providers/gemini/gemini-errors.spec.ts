import { ApiError } from '@google/genai';
import { classifyGeminiError, isDailyQuota, parseGoogleError, retryDelayMs } from './gemini-errors.js';

const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';
const QUOTA_FAILURE = 'type.googleapis.com/google.rpc.QuotaFailure';

function apiError(status: number, body: unknown, prefix = ''): ApiError {
  return new ApiError({ status, message: `${prefix}${JSON.stringify(body)}` });
}

describe(retryDelayMs.name, () => {
  it.each([
    ['38s', 38_000],
    ['1.5s', 1500],
    ['0.250s', 250],
    [{ seconds: '3', nanos: 500_000_000 }, 3500],
    ['soon', undefined],
    ['-1s', undefined],
  ])('reads %j as %j ms', (retryDelay, expected) => {
    expect(retryDelayMs([{ '@type': RETRY_INFO, retryDelay }])).toBe(expected);
  });

  it('is undefined without RetryInfo', () => {
    expect(retryDelayMs([{ '@type': QUOTA_FAILURE, violations: [] }])).toBeUndefined();
  });
});

describe(isDailyQuota.name, () => {
  it.each([
    ['GenerateRequestsPerDayPerProjectPerModel-FreeTier', true],
    ['GenerateContentInputTokensPerModelPerDay-FreeTier', true],
    ['GenerateRequestsPerMinutePerProjectPerModel-FreeTier', false],
  ])('%s → %s', (quotaId, expected) => {
    expect(isDailyQuota([{ '@type': QUOTA_FAILURE, violations: [{ quotaId }] }])).toBe(expected);
  });
});

describe(parseGoogleError.name, () => {
  it('reads the body of an HTTP error and of a stream error event', () => {
    const body = { error: { code: 500, status: 'INTERNAL', details: [{ a: 1 }] } };
    expect(parseGoogleError(JSON.stringify(body))).toEqual({ status: 'INTERNAL', details: [{ a: 1 }] });
    expect(parseGoogleError(`got status: INTERNAL. ${JSON.stringify(body)}`)).toEqual({
      status: 'INTERNAL',
      details: [{ a: 1 }],
    });
    expect(parseGoogleError('Service Unavailable')).toBeUndefined();
  });
});

describe(classifyGeminiError.name, () => {
  it('prefers a per-day QuotaFailure over the RetryInfo beside it', () => {
    const error = classifyGeminiError(
      apiError(429, {
        error: {
          code: 429,
          status: 'RESOURCE_EXHAUSTED',
          details: [
            { '@type': QUOTA_FAILURE, violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }] },
            { '@type': RETRY_INFO, retryDelay: '38s' },
          ],
        },
      }),
      'gemini',
    );
    expect(error).toMatchObject({ code: 'provider_quota_exhausted', provider: 'gemini' });
    expect(error.retryable).toBe(false);
    expect(error.details.retryAfterMs).toBeUndefined();
  });

  it('keeps Google’s message (which may quote the prompt) out of the error', () => {
    const error = classifyGeminiError(
      apiError(400, { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'bad value "my secret prompt"' } }),
      'gemini',
    );
    expect(error).toMatchObject({ code: 'provider_invalid_request', message: 'HTTP 400 INVALID_ARGUMENT' });
    expect(error.cause).toBeUndefined();
  });

  it.each([
    [502, 'provider_unavailable', true],
    [408, 'provider_timeout', true],
    [401, 'provider_invalid_request', false],
  ])('HTTP %i is %s', (status, code, retryable) => {
    const error = classifyGeminiError(apiError(status, { error: { code: status } }), 'gemini');
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
  });

  it('reads a socket code from deep in the causes', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const wrapped = new Error('exception TypeError: fetch failed sending request', {
      cause: new TypeError('fetch failed', { cause: socket }),
    });
    expect(classifyGeminiError(wrapped, 'gemini')).toMatchObject({
      code: 'provider_unavailable',
      details: { retryable: true, detail: 'connection failed (ECONNREFUSED)' },
    });
  });

  it('drops a SyntaxError’s message, which quotes the data', () => {
    const error = classifyGeminiError(new SyntaxError('Unexpected token in "model words"'), 'gemini');
    expect(error).toMatchObject({ code: 'provider_unavailable', message: 'malformed response data' });
    expect(error.cause).toBeUndefined();
  });
});
