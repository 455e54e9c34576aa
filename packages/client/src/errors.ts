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
 * The API answered with an error: a non-2xx response, or a stream's `error` event. `problem` is
 * the server's problem+json body; it is null when the response carried none (a proxy error, an
 * empty 5xx). Branch on `code`, never on `message`.
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

  /** The error of a non-2xx response, from its parsed body (openapi-fetch's `error`). */
  static fromResponse(response: Response, body: unknown): ApiError {
    const problem = isProblem(body) ? body : null;
    return new ApiError(
      response.status,
      problem,
      problem?.requestId ?? response.headers.get('X-Request-Id'),
      problem?.retryAfterSeconds ?? retryAfterSeconds(response.headers.get('Retry-After')),
    );
  }

  /** The error a stream's `error` event carries. */
  static fromProblem(problem: Problem): ApiError {
    return new ApiError(problem.status, problem, problem.requestId);
  }
}

/**
 * No answer: the request never reached the server or its answer never came back (offline,
 * connection refused), or a stream was cut before its terminal event. Whether the server acted
 * on the request is unknown; repeat it with the same `Idempotency-Key`, or re-attach to the reply.
 */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

/** A stream broke the event-stream contract (data that is not JSON, an event named unlike its type). */
export class StreamFormatError extends Error {
  override readonly name = 'StreamFormatError';
}
