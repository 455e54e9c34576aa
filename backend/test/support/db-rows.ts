import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../../src/database/sql.js';

// Rows written straight into a test database, so a db-spec states only the balance or the
// message it studies (no app, no HTTP).

export async function insertUser(dataSource: DataSource, balance = 0): Promise<string> {
  const [row] = await rowsOf<{ id: string }>(
    dataSource,
    `INSERT INTO users (email, password_hash, token_balance) VALUES ($1, 'not a hash', $2) RETURNING id`,
    [`user-${randomUUID()}@example.com`, balance],
  );
  return row!.id;
}

/** An empty chat of the user's, with a character made for it; the chat's id. */
export async function insertChat(dataSource: DataSource, userId: string): Promise<string> {
  const [row] = await rowsOf<{ id: string }>(
    dataSource,
    `WITH character AS (
       INSERT INTO characters (id, version, translations) VALUES ($2, 1, '{}') RETURNING id
     )
     INSERT INTO chats (user_id, character_id) SELECT $1, id FROM character RETURNING id`,
    [userId, `test-${randomUUID().slice(0, 8)}`],
  );
  return row!.id;
}

/** A chat of the user's with one running reply (a character made for it); the reply's id. */
export async function insertReply(dataSource: DataSource, userId: string): Promise<string> {
  const character = `test-${randomUUID().slice(0, 8)}`;
  const [row] = await rowsOf<{ id: string }>(
    dataSource,
    `WITH character AS (
       INSERT INTO characters (id, version, translations) VALUES ($2, 1, '{}') RETURNING id
     ), chat AS (
       INSERT INTO chats (user_id, character_id) SELECT $1, id FROM character RETURNING id
     )
     INSERT INTO messages (chat_id, seq, role, content, status)
     SELECT id, 1, 'assistant', '', 'streaming' FROM chat RETURNING id`,
    [userId, character],
  );
  return row!.id;
}

export async function balanceOf(dataSource: DataSource, userId: string): Promise<number> {
  const [row] = await rowsOf<{ token_balance: string }>(dataSource, 'SELECT token_balance FROM users WHERE id = $1', [
    userId,
  ]);
  return Number(row!.token_balance);
}

/** A message's ledger rows as `kind segment amount`, by segment then kind. */
export async function ledgerOf(dataSource: DataSource, messageId: string): Promise<string[]> {
  const rows = await rowsOf<{ kind: string; segment: number; amount: string }>(
    dataSource,
    'SELECT kind, segment, amount FROM token_ledger WHERE message_id = $1 ORDER BY segment, kind',
    [messageId],
  );
  return rows.map((r) => `${r.kind} ${r.segment} ${r.amount}`);
}

/** A chat's messages in seq order as `seq role status parent-seq` (`-` for a root): its tree at a glance. */
export async function treeOf(dataSource: DataSource, chatId: string): Promise<string[]> {
  const rows = await rowsOf<{ seq: number; role: string; status: string; parent_seq: number | null }>(
    dataSource,
    `SELECT m.seq, m.role, m.status, p.seq AS parent_seq
     FROM messages m LEFT JOIN messages p ON p.id = m.parent_id WHERE m.chat_id = $1 ORDER BY m.seq`,
    [chatId],
  );
  return rows.map((r) => `${r.seq} ${r.role} ${r.status} ${r.parent_seq ?? '-'}`);
}

export async function activeLeafOf(dataSource: DataSource, chatId: string): Promise<string | null> {
  const [row] = await rowsOf<{ leaf: string | null }>(
    dataSource,
    'SELECT active_leaf_id AS leaf FROM chats WHERE id = $1',
    [chatId],
  );
  return row!.leaf;
}

/** A request's idempotency record still in flight (no reply linked yet); its id. */
export async function insertIdempotencyRecord(dataSource: DataSource, userId: string): Promise<string> {
  const [row] = await rowsOf<{ id: string }>(
    dataSource,
    `INSERT INTO idempotency_records (user_id, key, fingerprint, state, expires_at)
     VALUES ($1, $2, repeat('0', 64), 'in_flight', now() + interval '1 hour') RETURNING id`,
    [userId, randomUUID()],
  );
  return row!.id;
}

/** The reply an idempotency record is linked to (null when none). */
export async function replyOfRecord(dataSource: DataSource, recordId: string): Promise<string | null> {
  const [row] = await rowsOf<{ message_id: string | null }>(
    dataSource,
    'SELECT message_id FROM idempotency_records WHERE id = $1',
    [recordId],
  );
  return row!.message_id;
}
