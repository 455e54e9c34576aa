import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { pino, type LevelWithSilent } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../../config/app-config.js';
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
const MAX_PATH_LENGTH = 200;

/**
 * The options of the process's root logger, handed to pino-http because nestjs-pino builds the
 * root through it; the request's own context and line are RequestLogMiddleware's.
 */
export function loggerOptions(level: LevelWithSilent): Options<Request, Response> {
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
  };
}

/** A URL's path without its query, cut to a length a log line can carry. */
export function pathOf(url = ''): string {
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).slice(0, MAX_PATH_LENGTH);
}

function serializeRequest(request: IncomingMessage & { originalUrl?: string }): Record<string, unknown> {
  const headers: Record<string, string | string[]> = {};
  for (const name of LOGGED_HEADERS) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return { method: request.method, path: pathOf(request.originalUrl ?? request.url), headers };
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
