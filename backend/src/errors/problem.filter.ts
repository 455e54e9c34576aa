import { Catch, HttpException, Injectable, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Problem } from '@parley/api-types';
import { AppError } from './app-error.js';
import { classifyDatabaseError } from './database-errors.js';
import { resolveLocale } from '../i18n/locale.js';
import { Translator } from '../i18n/i18n.module.js';
import { requestIdOf } from '../http/request-id.js';
import { ProviderError } from '../providers/provider.port.js';
import { reportUnexpected } from '../telemetry/error-reporting/error-reporting.js';

const PROBLEM_TYPE_BASE = 'urn:parley:problem:';

/** Builds the problem+json body for any failure: the one place the error wire format is made. */
@Injectable()
export class ProblemFactory {
  private readonly logger = new Logger('ProblemFactory');
  // A turn's failure is shaped more than once (the stream's error event, the filter, the stored
  // idempotent outcome); the unexpected error behind it is logged once.
  private readonly logged = new WeakSet<object>();

  constructor(private readonly i18n: Translator) {}

  build(exception: unknown, from: Request | ProblemContext): { error: AppError; problem: Problem } {
    const context = 'headers' in from ? problemContextOf(from) : from;
    if (exception instanceof ReplayedProblem) return this.replayed(exception, context);
    const error = toAppError(exception);
    if (error.code === 'internal_error' && !this.alreadyLogged(exception)) {
      this.logger.error(
        { requestId: context.requestId, method: context.method, route: context.route },
        exception instanceof Error ? exception.stack : String(exception),
      );
      reportUnexpected(exception, { requestId: context.requestId, method: context.method, route: context.route });
    }
    const locale = resolveLocale(context.acceptLanguage);
    const messageKey = `errors.${error.code}`;
    // Whole seconds, rounded up: the header and the body always agree.
    const retryAfter =
      error.details.retryAfterSeconds === undefined ? null : Math.ceil(error.details.retryAfterSeconds);
    const problem: Problem = {
      type: `${PROBLEM_TYPE_BASE}${error.code}`,
      title: error.code,
      status: error.status,
      code: error.code,
      messageKey,
      message: this.i18n.translate(messageKey, locale),
      retryable: error.retryable,
      retryAfterSeconds: retryAfter,
      breakerState: error.details.breakerState ?? null,
      requestId: context.requestId,
      ...(error.details.errors ? { errors: error.details.errors } : {}),
    };
    return { error, problem };
  }

  // A stored outcome answered again: as it was, but for this request (its id, its language).
  private replayed(replay: ReplayedProblem, context: ProblemContext): { error: AppError; problem: Problem } {
    const stored = replay.problem;
    const error = toAppError(replay);
    const message = this.i18n.translate(stored.messageKey, resolveLocale(context.acceptLanguage));
    return { error, problem: { ...stored, message, requestId: context.requestId } };
  }

  private alreadyLogged(exception: unknown): boolean {
    if (typeof exception !== 'object' || exception === null) return false;
    if (this.logged.has(exception)) return true;
    this.logged.add(exception);
    return false;
  }
}

/** What shapes a problem besides the error: the request it answers. */
export interface ProblemContext {
  requestId: string;
  acceptLanguage?: string;
  method?: string;
  route?: string;
}

export function problemContextOf(request: Request): ProblemContext {
  const language = request.headers['accept-language'];
  return {
    requestId: requestIdOf(request),
    acceptLanguage: typeof language === 'string' ? language : undefined,
    method: request.method,
    route: (request.route as { path?: string } | undefined)?.path,
  };
}

/** An outcome recorded for an idempotent request, answered again to a repeat of it. */
export class ReplayedProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.code);
    this.name = 'ReplayedProblem';
  }
}

/** Owns the error wire format: every failure leaves as problem+json with a stable code. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly problems: ProblemFactory) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    if (response.headersSent) {
      // A stream has committed its status and reported its own end (an `error` event).
      if (!response.writableEnded) response.end();
      return;
    }
    sendProblem(request, response, this.problems.build(exception, request).problem);
  }
}

/** Writes a problem+json response with the headers its status carries (Retry-After, WWW-Authenticate). */
export function sendProblem(request: Request, response: Response, problem: Problem): void {
  // Also when the request failed before the edge middleware ran (a path Express could not
  // decode): every response carries the id its body repeats.
  if (!response.hasHeader('X-Request-Id')) response.setHeader('X-Request-Id', problem.requestId);
  if (problem.retryAfterSeconds !== null) response.setHeader('Retry-After', String(problem.retryAfterSeconds));
  if (problem.status === 401) response.setHeader('WWW-Authenticate', bearerChallenge(request));
  response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

// RFC 6750 §3: no error code when no token was sent, invalid_token when the one sent failed.
function bearerChallenge(request: Request): string {
  const sentToken = /^bearer\s+\S/i.test(request.headers.authorization ?? '');
  return sentToken ? 'Bearer realm="parley", error="invalid_token"' : 'Bearer realm="parley"';
}

// Framework and parser errors arrive as HttpExceptions or raw body-parser errors; map the ones
// that mean "bad request" to their codes and hide everything else behind internal_error.
export function toAppError(exception: unknown): AppError {
  if (exception instanceof AppError) return exception;
  if (exception instanceof ProviderError) return providerToAppError(exception);
  if (exception instanceof ReplayedProblem) {
    const { code, retryAfterSeconds, breakerState, errors } = exception.problem;
    return new AppError(code, {
      retryAfterSeconds: retryAfterSeconds ?? undefined,
      breakerState: breakerState ?? undefined,
      errors,
    });
  }
  const parserType = (exception as { type?: unknown } | null)?.type;
  if (parserType === 'entity.parse.failed') return new AppError('malformed_json');
  if (parserType === 'entity.too.large') return new AppError('payload_too_large');
  if (parserType === 'encoding.unsupported' || parserType === 'charset.unsupported') {
    return new AppError('unsupported_media_type');
  }
  if (exception instanceof HttpException) {
    switch (exception.getStatus()) {
      case 404:
        return new AppError('route_not_found');
      case 413:
        return new AppError('payload_too_large');
      case 415:
        return new AppError('unsupported_media_type');
      case 401:
        return new AppError('unauthenticated');
      case 400:
        return new AppError('validation_failed');
    }
  }
  return classifyDatabaseError(exception) ?? new AppError('internal_error', { cause: exception });
}

// When the provider gave no advice, a retryable provider failure suggests a short wait.
const PROVIDER_DEFAULT_RETRY_AFTER_SECONDS = 5;

function providerToAppError(error: ProviderError): AppError {
  const retryAfterSeconds =
    error.details.retryAfterMs !== undefined
      ? error.details.retryAfterMs / 1000
      : error.retryable
        ? PROVIDER_DEFAULT_RETRY_AFTER_SECONDS
        : undefined;
  // A block names its category (never the text), so a client can say what kind of content it was.
  const errors = error.details.blockCategory
    ? [{ location: 'body' as const, pointer: '', message: error.details.blockCategory, keyword: 'content_policy' }]
    : undefined;
  return new AppError(error.code, { retryAfterSeconds, errors, detail: error.message, cause: error });
}
