import { QueryFailedError } from 'typeorm';
import { AppError } from './app-error.js';

const DATABASE_RETRY_AFTER_SECONDS = 5;

// Connection-class failures: the server or pooler is away, restarting, or out of connections.
// Also a pooler mishandling prepared statements (42P05 already exists, 26000 does not exist).
const UNAVAILABLE_SQLSTATES = /^(08|57P0[1-3]|53300|53400|42P05|26000)/;
const UNAVAILABLE_MESSAGES =
  /(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|Connection terminated|timeout exceeded when trying to connect|Query read timeout|connect ECONN|server login has been failing|Client has encountered a connection error)/i;
// Node's own socket errors (the server is not listening, the connection dropped) carry these as
// `code` rather than a SQLSTATE.
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

/** The driver's error: wrapped by TypeORM (a query runner's statement), or pg's or node:net's own. */
function driverError(error: unknown): { code?: unknown; detail?: unknown; constraint?: unknown } | undefined {
  if (error instanceof QueryFailedError) return error.driverError as { code?: unknown };
  return typeof error === 'object' && error !== null ? error : undefined;
}

function sqlState(error: unknown): string | undefined {
  const code = driverError(error)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether a driver error carries this SQLSTATE. */
export function hasSqlState(error: unknown, state: string): boolean {
  return sqlState(error) === state;
}

/**
 * Classifies a driver error into the taxonomy, or returns undefined when it is not one we
 * recognise (the filter then answers 500 and logs it).
 */
export function classifyDatabaseError(error: unknown): AppError | undefined {
  const state = sqlState(error);
  // Not `instanceof Error`: socket errors are made by node:net, which may be another realm than
  // ours (jest's VM modules), and must still be recognised.
  const raw = (error as { message?: unknown } | null)?.message;
  const message = typeof raw === 'string' ? raw : '';
  if (
    (state && (UNAVAILABLE_SQLSTATES.test(state) || UNAVAILABLE_SOCKET_CODES.has(state))) ||
    UNAVAILABLE_MESSAGES.test(message)
  ) {
    return new AppError('database_unavailable', {
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      cause: error,
    });
  }
  // A row the statement refers to is gone: the account behind a still-valid token (deleted), or a
  // chat or message deleted meanwhile. What is missing decides the answer, never a 500.
  if (state === '23503') {
    const table = /is not present in table "([a-z_]+)"/.exec(String(driverError(error)?.detail ?? ''))?.[1];
    if (table === 'users') return new AppError('unauthenticated', { cause: error });
    if (table === 'chats') return new AppError('chat_not_found', { cause: error });
    if (table === 'messages') return new AppError('message_not_found', { cause: error });
  }
  // Class 22 (data exception: bad UUID text, NUL byte, out of range) is the client's input.
  if (state?.startsWith('22')) {
    return new AppError('validation_failed', { detail: 'a value was not acceptable', cause: error });
  }
  return undefined;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (sqlState(error) !== '23505') return false;
  return !constraint || driverError(error)?.constraint === constraint;
}
