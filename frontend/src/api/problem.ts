import type { Problem } from '@parley/api-types';

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/**
 * A failed API call. `problem` is the server's problem+json body; it is null when the response
 * carried none (a proxy error, an empty 5xx), and the UI then shows a generic localized message.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    readonly requestId: string | null,
  ) {
    super(problem?.message ?? `HTTP ${status}`);
  }
}

export function toApiError(error: unknown, response: Response): ApiError {
  const problem = isProblem(error) ? error : null;
  return new ApiError(response.status, problem, problem?.requestId ?? response.headers.get('X-Request-Id'));
}
