import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { pino, type LevelWithSilent } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../../config/app-config.js';
import { requestIdOf } from '../../http/request-id.js';
import { traceFields } from '../tracing/spans.js';

/** LOG_LEVEL speaks Nest's names; pino calls `verbose` `trace`. */
export function pinoLevel(level: AppConfig['logLevel']): LevelWithSilent {
  return level === 'verbose' ? 'trace' : level;
}

// A second line of defence: the serializers below already leave bodies and headers out, and app
// code logs ids rather than text, but a field with one of these names is censored wherever it turns up.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'authorization',
  '*.authorization',
  'password',
  '*.password',
  'content',
  '*.content',
  'accessToken',
  '*.accessToken',
  'body',
  '*.body',
];

// The only request headers a log line may carry.
const LOGGED_HEADERS = ['user-agent', 'content-length', 'content-type', 'accept-language'] as const;
// Probes and scrapes succeed every few seconds; their lines are debug unless they fail.
const QUIET_ROUTES = /^\/(health|metrics)(\/|$)/;
const MAX_PATH_LENGTH = 200;

/** pino-http options shared by the application logger and main's bootstrap logger. */
export function httpLoggerOptions(level: LevelWithSilent): Options<Request, Response> {
  return {
    level,
    redact: { paths: REDACTED_PATHS },
    // Ours are complete: pino-http's wrapping would hand them the standard shapes, headers and query included.
    wrapSerializers: false,
    serializers: { req: serializeRequest, res: serializeResponse, err: serializeError },
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      // pino takes the message of an error logged without one from the raw error, past the serializer.
      logMethod(args, method) {
        const [first, second]: unknown[] = args;
        const error = first instanceof Error ? first : (first as { err?: unknown } | null | undefined)?.err;
        const log = method as (obj: unknown, msg?: string, ...rest: unknown[]) => void;
        if (error instanceof Error && typeof second !== 'string') {
          log.call(this, first, String(serializeError(error).message));
        } else {
          log.apply(this, args);
        }
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    // The trace and span a line was logged in (when tracing is on): a request's lines, its
    // trace and its problem body's requestId meet on one line.
    mixin: () => traceFields(),
    // The id EdgeMiddleware echoes as X-Request-Id (whichever of the two middlewares runs first makes it).
    genReqId: (request) => requestIdOf(request),
    customAttributeKeys: { reqId: 'request_id', responseTime: 'duration_ms' },
    // Lines logged during a request carry only its id; the request's own line is built by requestLine.
    quietReqLogger: true,
    quietResLogger: true,
    customLogLevel: (request, response, error) => {
      if (error || response.statusCode >= 500) return 'error';
      if (response.statusCode >= 400) return 'warn';
      return QUIET_ROUTES.test(routeOf(request)) ? 'debug' : 'info';
    },
    customSuccessMessage: outcome,
    customErrorMessage: outcome,
    customSuccessObject: (request, response, value: Record<string, unknown>) => requestLine(request, response, value),
    customErrorObject: (request, response, _error, value: Record<string, unknown>) =>
      requestLine(request, response, value),
  };
}

// One line per request, and nothing else: no url with ids or query, no headers, no body.
function requestLine(request: Request, response: Response, value: Record<string, unknown>): Record<string, unknown> {
  return {
    method: request.method,
    route: routeOf(request),
    status_code: response.statusCode,
    duration_ms: value.duration_ms,
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

// One message for every request line (pino-http says "errored" for a 5xx); the level tells them apart.
function outcome(request: Request, response: Response): string {
  return !request.readableAborted && response.writableEnded ? 'request completed' : 'request aborted';
}

function pathOf(url = ''): string {
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).slice(0, MAX_PATH_LENGTH);
}

function serializeRequest(request: IncomingMessage & { originalUrl?: string }): Record<string, unknown> {
  const headers: Record<string, string | string[]> = {};
  for (const name of LOGGED_HEADERS) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return { id: request.id, method: request.method, path: pathOf(request.originalUrl ?? request.url), headers };
}

function serializeResponse(response: ServerResponse): Record<string, unknown> {
  return { statusCode: response.statusCode };
}

/**
 * Name, message, code and stack, and the causes the same way; never an error's other properties,
 * which may hold a query's parameters (message text) or a parser's raw body.
 */
export function serializeError(error: unknown, depth = 0): Record<string, unknown> {
  if (typeof error === 'string') return { message: error };
  if (!(error instanceof Error)) return { type: typeof error };
  const code = (error as { code?: unknown }).code;
  const serialized: Record<string, unknown> = {
    type: error.constructor.name || error.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
  };
  // body-parser's errors carry the raw body, and V8's JSON.parse messages quote it.
  if ('body' in error) return { ...serialized, message: 'withheld: the error carries a request body' };
  serialized.message = error.message;
  serialized.stack = error.stack;
  if (error.cause !== undefined && depth < 3) serialized.cause = serializeError(error.cause, depth + 1);
  return serialized;
}
