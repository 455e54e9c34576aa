import { describe, expect, it } from 'vitest';
import { problemFixture } from '../test-fixtures';
import { ApiError, toApiError } from './problem';

describe('toApiError', () => {
  it('keeps the problem body and its request id', () => {
    const problem = problemFixture({ requestId: 'req-from-body' });
    const response = new Response(null, {
      status: 404,
      headers: { 'X-Request-Id': 'req-from-header' },
    });

    const error = toApiError(problem, response);

    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(404);
    expect(error.problem?.code).toBe('chat_not_found');
    expect(error.requestId).toBe('req-from-body');
  });

  it('falls back to the response header when the body is not a problem', () => {
    const response = new Response(null, { status: 502, headers: { 'X-Request-Id': 'req-502' } });

    const error = toApiError('<html>Bad gateway</html>', response);

    expect(error.problem).toBeNull();
    expect(error.status).toBe(502);
    expect(error.requestId).toBe('req-502');
  });
});
