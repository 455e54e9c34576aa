import type { ErrorCode, Problem } from '@parley/api-types';

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
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
    readonly retryAfterSeconds: number | null = problem?.retryAfterSeconds ?? null,
  ) {
    super(problem?.message ?? `HTTP ${status}`);
  }

  get code(): ErrorCode | null {
    return this.problem?.code ?? null;
  }
}

/** The request never got an answer: offline, connection refused or cut mid-stream. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

export function toApiError(error: unknown, response: Response): ApiError {
  const problem = isProblem(error) ? error : null;
  return new ApiError(
    response.status,
    problem,
    problem?.requestId ?? response.headers.get('X-Request-Id'),
    problem?.retryAfterSeconds ?? retryAfterSeconds(response.headers.get('Retry-After')),
  );
}

/** A problem that arrived as a stream's `error` event. */
export function problemError(problem: Problem): ApiError {
  return new ApiError(problem.status, problem, problem.requestId);
}
