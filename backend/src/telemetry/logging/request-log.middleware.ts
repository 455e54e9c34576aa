import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import type { Level } from 'pino';
import { requestIdOf } from '../../http/request-id.js';
import { pathOf } from './log-options.js';

// Probes and scrapes succeed every few seconds; their lines are debug unless they fail.
const QUIET_ROUTES = /^\/(health|metrics)(\/|$)/;

/**
 * A request's log context and its one line. Everything logged while the request is handled
 * carries its id (`request_id`); when the response is done, or the client gone, one line says
 * the method, the route template, the status and the duration, at a level the outcome sets.
 * pino-http did this with two child loggers per request (one binding the whole request through
 * its serializer and the redaction, which no line used) and built the line's fields before
 * pino dropped a disabled level; here the line is built only when its level is on.
 */
@Injectable()
export class RequestLogMiddleware implements NestMiddleware {
  constructor(private readonly pino: PinoLogger) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const started = Date.now();
    this.pino.runInContext(
      () => {
        const log = this.pino.logger;
        const done = (error?: unknown) => {
          response.off('close', done);
          response.off('error', done);
          const level = levelOf(request, response, error);
          if (!log.isLevelEnabled(level)) return;
          log[level](requestLine(request, response, Date.now() - started), outcome(request, response));
        };
        // A response always ends with `close`, finished or not; `error` may come first.
        response.on('close', done);
        response.on('error', done);
        next();
      },
      { bindings: { request_id: requestIdOf(request) } },
    );
  }
}

function levelOf(request: Request, response: Response, error: unknown): Level {
  if (error !== undefined || response.statusCode >= 500) return 'error';
  if (response.statusCode >= 400) return 'warn';
  return QUIET_ROUTES.test(routeOf(request)) ? 'debug' : 'info';
}

// One line per request, and nothing else: no url with ids or query, no headers, no body.
function requestLine(request: Request, response: Response, durationMs: number): Record<string, unknown> {
  return {
    method: request.method,
    route: routeOf(request),
    status_code: response.statusCode,
    duration_ms: durationMs,
  };
}

// The matched route's template (`/api/v1/chats/:chatId/messages`); the bare path when no handler's route
// matched (404s, static files, a body refused by a middleware: those leave a middleware's `{/*splat}`).
function routeOf(request: Request): string {
  const route: unknown = request.route;
  const template = typeof route === 'object' && route !== null ? (route as { path?: unknown }).path : undefined;
  return typeof template === 'string' && !template.includes('*')
    ? template
    : pathOf(request.originalUrl ?? request.url);
}

// One message for every request line; the level tells them apart.
function outcome(request: Request, response: Response): string {
  return !request.readableAborted && response.writableEnded ? 'request completed' : 'request aborted';
}
