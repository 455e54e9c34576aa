import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import type { ArgumentsHost } from '@nestjs/common';
import { AppError } from './app-error.js';
import { ProblemFactory, ProblemFilter, toAppError } from './problem.filter.js';
import type { Translator } from '../i18n/i18n.module.js';

function queryError(code: string, message = 'driver message', detail?: string): QueryFailedError {
  return new QueryFailedError(
    'SELECT secret FROM users WHERE x = $1',
    ['parameter'],
    Object.assign(new Error(message), { code, detail }),
  );
}

describe(toAppError.name, () => {
  it.each([
    [new AppError('chat_not_found'), 'chat_not_found'],
    [
      Object.assign(new SyntaxError('Unexpected token } in JSON'), { type: 'entity.parse.failed', status: 400 }),
      'malformed_json',
    ],
    [
      Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413 }),
      'payload_too_large',
    ],
    [
      Object.assign(new Error('unsupported charset'), { type: 'charset.unsupported', status: 415 }),
      'unsupported_media_type',
    ],
    [new NotFoundException('Cannot GET /x'), 'route_not_found'],
    [new PayloadTooLargeException(), 'payload_too_large'],
    [new BadRequestException(), 'validation_failed'],
    [queryError('22P02'), 'validation_failed'],
    [queryError('22021'), 'validation_failed'],
    [queryError('08006'), 'database_unavailable'],
    [queryError('57P01'), 'database_unavailable'],
    [queryError('53300'), 'database_unavailable'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'database_unavailable'],
    [new Error('timeout exceeded when trying to connect'), 'database_unavailable'],
    [queryError('23503'), 'internal_error'],
    [queryError('23503', 'fk', 'Key (user_id)=(x) is not present in table "users".'), 'unauthenticated'],
    [queryError('23503', 'fk', 'Key (chat_id)=(x) is not present in table "chats".'), 'chat_not_found'],
    [queryError('23503', 'fk', 'Key (message_id)=(x) is not present in table "messages".'), 'message_not_found'],
    [new TypeError('x is undefined'), 'internal_error'],
    ['a thrown string', 'internal_error'],
  ])('classifies %p as %s', (error, code) => {
    expect(toAppError(error).code).toBe(code);
  });

  it('tells the client when to retry an unavailable database', () => {
    expect(toAppError(queryError('08006')).details.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe(ProblemFilter.name, () => {
  function run(error: unknown, headers: Record<string, string> = {}) {
    const sent: { status?: number; type?: string; body?: string; headers: Record<string, string> } = { headers: {} };
    const response = {
      headersSent: false,
      setHeader: (name: string, value: string) => (sent.headers[name] = value),
      hasHeader: (name: string) => name in sent.headers,
      status(code: number) {
        sent.status = code;
        return this;
      },
      type(value: string) {
        sent.type = value;
        return this;
      },
      send(body: string) {
        sent.body = body;
        return this;
      },
    };
    const request = { headers, method: 'GET' };
    Object.assign(response, { writableEnded: false });
    const host = {
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
    } as unknown as ArgumentsHost;
    const translator: Translator = { translate: (key, locale) => `${locale}:${key}` };
    const factory = new ProblemFactory(translator);
    (factory as unknown as { logger: { error: () => void } }).logger = { error: () => undefined };
    const filter = new ProblemFilter(factory);
    filter.catch(error, host);
    return { ...sent, problem: JSON.parse(sent.body ?? '{}') as Record<string, unknown> };
  }

  it('hides an unexpected error behind a generic 500 with no internals', () => {
    const sent = run(queryError('42P01', 'relation "users" does not exist'));
    expect(sent.status).toBe(500);
    expect(sent.type).toBe('application/problem+json');
    expect(sent.problem).toMatchObject({ code: 'internal_error', retryable: false, title: 'internal_error' });
    expect(sent.body).not.toMatch(/SELECT|relation|users|parameter|at \w+ \(/);
  });

  it('sets Retry-After from the error and localizes the message', () => {
    const sent = run(new AppError('database_unavailable', { retryAfterSeconds: 4.2 }), { 'accept-language': 'zh-CN' });
    expect(sent.status).toBe(503);
    expect(sent.headers['Retry-After']).toBe('5');
    expect(sent.problem).toMatchObject({
      retryAfterSeconds: 5,
      retryable: true,
      message: 'zh:errors.database_unavailable',
    });
  });

  it("repeats the request's id in the body and the header", () => {
    const sent = run(new AppError('chat_not_found'), { 'x-request-id': 'req-42' });
    expect(sent.problem.requestId).toBe('req-42');
    expect(sent.headers['X-Request-Id']).toBe('req-42');
  });

  it('challenges a 401 with WWW-Authenticate, naming an invalid token only when one was sent', () => {
    expect(run(new AppError('unauthenticated')).headers['WWW-Authenticate']).toBe('Bearer realm="parley"');
    expect(run(new AppError('unauthenticated'), { authorization: 'Bearer abc' }).headers['WWW-Authenticate']).toBe(
      'Bearer realm="parley", error="invalid_token"',
    );
    expect(run(new AppError('chat_not_found')).headers['WWW-Authenticate']).toBeUndefined();
  });

  it('sends Retry-After only with retryAfterSeconds', () => {
    expect(run(new AppError('message_not_regenerable')).headers['Retry-After']).toBeUndefined();
    expect(run(new AppError('idempotency_key_in_flight', { retryAfterSeconds: 1 })).headers['Retry-After']).toBe('1');
  });
});
