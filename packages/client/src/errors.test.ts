import { describe, expect, it } from 'vitest';
import { ApiError, retryAfterSeconds } from './errors.js';

const problem = {
  type: 'https://parley.example/problems/chat_not_found',
  title: 'Chat not found',
  status: 404,
  code: 'chat_not_found',
  messageKey: 'errors.chat_not_found',
  message: 'Chat not found.',
  retryable: false,
  retryAfterSeconds: null,
  breakerState: null,
  requestId: 'req-from-body',
} as const;

describe(ApiError.name, () => {
  describe('fromResponse', () => {
    it('keeps the problem body and its request id', () => {
      const response = new Response(null, { status: 404, headers: { 'X-Request-Id': 'req-from-header' } });

      const error = ApiError.fromResponse(response, problem);

      expect(error.status).toBe(404);
      expect(error.code).toBe('chat_not_found');
      expect(error.message).toBe('Chat not found.');
      expect(error.requestId).toBe('req-from-body');
    });

    it('falls back to the response headers when the body is not a problem', () => {
      const response = new Response(null, { status: 502, headers: { 'X-Request-Id': 'req-502', 'Retry-After': '4' } });

      const error = ApiError.fromResponse(response, '<html>Bad gateway</html>');

      expect(error.problem).toBeNull();
      expect(error.code).toBeNull();
      expect(error.message).toBe('HTTP 502');
      expect(error.requestId).toBe('req-502');
      expect(error.retryAfterSeconds).toBe(4);
    });
  });

  it('fromProblem takes status, request id and wait from a stream’s error event', () => {
    const error = ApiError.fromProblem({ ...problem, status: 503, code: 'breaker_open', retryAfterSeconds: 9 });

    expect([error.status, error.code, error.requestId, error.retryAfterSeconds]).toEqual([
      503,
      'breaker_open',
      'req-from-body',
      9,
    ]);
  });
});

describe(retryAfterSeconds.name, () => {
  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2025-05-01T10:00:00Z');
    expect(retryAfterSeconds(' 30 ', now)).toBe(30);
    expect(retryAfterSeconds('Thu, 01 May 2025 10:00:05 GMT', now)).toBe(5);
    expect(retryAfterSeconds('Thu, 01 May 2025 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterSeconds('soon', now)).toBeNull();
    expect(retryAfterSeconds(null, now)).toBeNull();
  });
});
