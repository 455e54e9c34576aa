import { AppError } from '../errors/app-error.js';

export interface ChatCursor {
  updatedAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Opaque to clients: the position (last activity, id) of the last chat on the previous page.
export function encodeChatCursor(cursor: ChatCursor): string {
  return Buffer.from(JSON.stringify([cursor.updatedAt.toISOString(), cursor.id])).toString('base64url');
}

export function decodeChatCursor(value: string): ChatCursor {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded.length === 2) {
      const [at, id] = decoded as unknown[];
      const updatedAt = new Date(typeof at === 'string' ? at : Number.NaN);
      if (!Number.isNaN(updatedAt.getTime()) && typeof id === 'string' && UUID.test(id)) return { updatedAt, id };
    }
  } catch {
    // fall through to the validation error
  }
  throw new AppError('validation_failed', {
    errors: [
      { location: 'query', pointer: '/cursor', message: 'is not a cursor returned by this API', keyword: 'cursor' },
    ],
  });
}
