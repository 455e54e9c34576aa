import { QueryFailedError } from 'typeorm';
import { AppError } from './app-error.js';
import { classifyDatabaseError, hasSqlState, isUniqueViolation } from './database-errors.js';

// The driver's failures, as the code paths meet them: a QueryFailedError wrapping pg's error, or
// pg's / node:net's error itself. (toAppError's table in problem.filter.spec.ts covers the mapping
// end to end; here each rule's edges.)
function queryError(code: unknown, extra: Record<string, unknown> = {}, message = 'driver message'): QueryFailedError {
  return new QueryFailedError('SELECT 1', [], Object.assign(new Error(message), { code, ...extra }));
}
const socketError = (code: string, message = 'socket') => Object.assign(new Error(message), { code });

describe(classifyDatabaseError.name, () => {
  it.each(['08000', '08003', '08006', '08P01', '57P01', '57P02', '57P03', '53300', '53400', '42P05', '26000'])(
    'answers SQLSTATE %s as database_unavailable, retry in 5 s, the driver error kept as cause',
    (state) => {
      const error = queryError(state);
      const classified = classifyDatabaseError(error);
      expect(classified).toBeInstanceOf(AppError);
      expect(classified?.code).toBe('database_unavailable');
      expect(classified?.details.retryAfterSeconds).toBe(5);
      expect(classified?.details.cause).toBe(error);
      expect(classifyDatabaseError(socketError(state))?.code).toBe('database_unavailable');
    },
  );

  it.each(['57P04', '57014', '53200', '42P01', '26001', '07000', '42601'])(
    'does not take SQLSTATE %s for an unavailable database',
    (state) => {
      expect(classifyDatabaseError(queryError(state))?.code).not.toBe('database_unavailable');
    },
  );

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE'])(
    'answers a socket error %s as database_unavailable',
    (code) => {
      expect(classifyDatabaseError(socketError(code))?.code).toBe('database_unavailable');
    },
  );

  it.each([
    'connect ECONNREFUSED 127.0.0.1:5432',
    'read ECONNRESET',
    'Connection terminated unexpectedly',
    'connection terminated due to connection timeout',
    'timeout exceeded when trying to connect',
    'Query read timeout',
    'server login has been failing, try again later',
    'Client has encountered a connection error and is not queryable',
    'connect ETIMEDOUT',
    'connect EHOSTUNREACH',
  ])('answers the message %p as database_unavailable, whatever its code', (message) => {
    expect(classifyDatabaseError(new Error(message))?.code).toBe('database_unavailable');
    expect(classifyDatabaseError({ message })?.code).toBe('database_unavailable');
    expect(classifyDatabaseError(queryError('XX000', {}, message))?.code).toBe('database_unavailable');
  });

  it.each([
    ['users', 'unauthenticated'],
    ['chats', 'chat_not_found'],
    ['messages', 'message_not_found'],
  ])('answers a missing row of %s (23503) as %s', (table, code) => {
    const error = queryError('23503', { detail: `Key (x_id)=(1) is not present in table "${table}".` });
    const classified = classifyDatabaseError(error);
    expect(classified?.code).toBe(code);
    expect(classified?.details.cause).toBe(error);
  });

  it('leaves a foreign-key failure of another table, or without detail, unclassified', () => {
    expect(
      classifyDatabaseError(queryError('23503', { detail: 'Key (a)=(1) is not present in table "personas".' })),
    ).toBeUndefined();
    expect(classifyDatabaseError(queryError('23503'))).toBeUndefined();
    expect(classifyDatabaseError(queryError('23503', { detail: 'is not present in table "Users".' }))).toBeUndefined();
    // The table named in the detail decides only for a foreign-key failure.
    expect(
      classifyDatabaseError(queryError('23505', { detail: 'Key (x)=(1) is not present in table "users".' })),
    ).toBeUndefined();
    expect(classifyDatabaseError(socketError('23503'))).toBeUndefined();
  });

  it('reads the detail of pg’s own error as of the wrapped one (a statement run on the pool)', () => {
    const bare = Object.assign(new Error('insert or update violates foreign key'), {
      code: '23503',
      detail: 'Key (chat_id)=(1) is not present in table "chats".',
    });
    expect(classifyDatabaseError(bare)?.code).toBe('chat_not_found');
  });

  it.each(['22P02', '22021', '22003', '22001', '22000'])(
    'answers a data exception %s as validation_failed',
    (state) => {
      const classified = classifyDatabaseError(queryError(state));
      expect(classified?.code).toBe('validation_failed');
      expect(classified?.details.detail).toBe('a value was not acceptable');
    },
  );

  it.each([
    ['a unique violation', queryError('23505')],
    ['a syntax error', queryError('42601')],
    ['a code that is not text', queryError(22)],
    ['an error without a code', new Error('boom')],
    ['a thrown string', 'boom'],
    ['null', null],
    ['undefined', undefined],
    ['a message that is not text', { message: 42, code: 7 }],
    ['a state with 22 inside', queryError('X2200')],
  ])('leaves %s unclassified', (_, error) => {
    expect(classifyDatabaseError(error)).toBeUndefined();
  });
});

describe(hasSqlState.name, () => {
  it('reads the state of a wrapped driver error and of a bare one', () => {
    expect(hasSqlState(queryError('40001'), '40001')).toBe(true);
    expect(hasSqlState(socketError('40001'), '40001')).toBe(true);
    expect(hasSqlState(queryError('40001'), '40P01')).toBe(false);
    expect(hasSqlState(null, '40001')).toBe(false);
    expect(hasSqlState(queryError(40001), '40001')).toBe(false);
  });
});

describe(isUniqueViolation.name, () => {
  it('is a 23505, of the named constraint when one is named', () => {
    expect(isUniqueViolation(queryError('23505'))).toBe(true);
    expect(isUniqueViolation(queryError('23505', { constraint: 'uq_email' }), 'uq_email')).toBe(true);
    expect(isUniqueViolation(queryError('23505', { constraint: 'uq_other' }), 'uq_email')).toBe(false);
    expect(isUniqueViolation(queryError('23503', { constraint: 'uq_email' }), 'uq_email')).toBe(false);
    expect(isUniqueViolation(queryError('23505'), 'uq_email')).toBe(false);
    // pg's own error (a statement run on the pool) names its constraint as the wrapped one does.
    const bare = (constraint: string) => Object.assign(new Error('duplicate key'), { code: '23505', constraint });
    expect(isUniqueViolation(bare('uq_email'), 'uq_email')).toBe(true);
    expect(isUniqueViolation(bare('uq_other'), 'uq_email')).toBe(false);
    expect(isUniqueViolation(bare('uq_other'))).toBe(true);
  });
});
