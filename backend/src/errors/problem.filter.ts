import { Catch, HttpException, Injectable, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Problem } from '@parley/api-types';
import { AppError } from './app-error.js';
import { classifyDatabaseError } from './database-errors.js';
import { resolveLocale } from '../i18n/locale.js';
import { Translator } from '../i18n/i18n.module.js';
import { requestIdOf } from '../http/request-id.middleware.js';
import { ProviderError } from '../providers/provider.port.js';

const PROBLEM_TYPE_BASE = 'urn:parley:problem:';

/** Builds the problem+json body for any failure: the one place the error wire format is made. */
@Injectable()
export class ProblemFactory {
  private readonly logger = new Logger('ProblemFactory');
  // A turn's failure is shaped more than once (the stream's error event, the filter, the stored
  // idempotent outcome); the unexpected error behind it is logged once.
  private readonly logged = new WeakSet<object>();

  constructor(private readonly i18n: Translator) {}

  build(exception: unknown, request: Request): { error: AppError; problem: Problem } {
    const error = toAppError(exception);
    if (error.code === 'internal_error' && !this.alreadyLogged(exception)) {
      this.logger.error(
        { requestId: requestIdOf(request), method: request.method, route: request.route?.path },
        exception instanceof Error ? exception.stack : String(exception),
      );
    }
    const locale = resolveLocale(request.headers['accept-language']);
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
      requestId: requestIdOf(request),
      ...(error.details.errors ? { errors: error.details.errors } : {}),
    };
    return { error, problem };
  }

  private alreadyLogged(exception: unknown): boolean {
    if (typeof exception !== 'object' || exception === null) return false;
    if (this.logged.has(exception)) return true;
    this.logged.add(exception);
    return false;
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
    const { problem } = this.problems.build(exception, request);
    if (problem.retryAfterSeconds !== null) response.setHeader('Retry-After', String(problem.retryAfterSeconds));
    response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }
}

// Framework and parser errors arrive as HttpExceptions or raw body-parser errors; map the ones
// that mean "bad request" to their codes and hide everything else behind internal_error.
export function toAppError(exception: unknown): AppError {
  if (exception instanceof AppError) return exception;
  if (exception instanceof ProviderError) return providerToAppError(exception);
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
