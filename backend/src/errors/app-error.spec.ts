import { AppError } from './app-error.js';
import { ERROR_SPECS } from './error-codes.js';

describe(AppError.name, () => {
  it('takes its status and retryability from the one map', () => {
    for (const code of Object.keys(ERROR_SPECS) as Array<keyof typeof ERROR_SPECS>) {
      const error = new AppError(code);
      expect(error.status).toBe(ERROR_SPECS[code].status);
      expect(error.retryable).toBe(ERROR_SPECS[code].retryable);
    }
    expect(new AppError('breaker_open').status).toBe(503);
    expect(new AppError('breaker_open').retryable).toBe(true);
    expect(new AppError('chat_not_found').retryable).toBe(false);
  });

  it('is an Error whose message is the detail, else the code, and keeps the cause', () => {
    const cause = new Error('driver');
    const error = new AppError('database_unavailable', { detail: 'the pool is empty', cause, retryAfterSeconds: 5 });
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('the pool is empty');
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ detail: 'the pool is empty', cause, retryAfterSeconds: 5 });
    expect(new AppError('chat_not_found').message).toBe('chat_not_found');
    expect(new AppError('chat_not_found').details).toEqual({});
    expect(new AppError('chat_not_found').cause).toBeUndefined();
  });

  it('names itself in logs', () => {
    expect(new AppError('chat_not_found').name).toBe('AppError');
    expect(String(new AppError('chat_not_found'))).toBe('AppError: chat_not_found');
  });
});
