import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MessageRole, SearchHit, SearchPage } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { CursorCodec, invalidCursor } from '../pagination/cursor-codec.js';

export interface SearchQuery {
  q: string;
  limit: number;
  cursor?: string;
}

interface HitRow {
  message_id: string;
  chat_id: string;
  seq: number;
  role: MessageRole;
  content: string;
  created_at: Date;
  title: string | null;
  character_id: string;
}

// How many of the newest matches are ranked and can be paged through.
const RANKED = 500;
// How many of the user's newest messages are read first: a text in one message of eight or more
// has its RANKED newest matches among them.
const NEWEST_WINDOW = 4000;
// A text the planner expects in fewer messages of the window than this skips the window: the
// window would most likely not hold RANKED matches, and the index finds a rare text's few
// matches in less time than reading the window takes (bench/search.mjs).
const COMMON_IN_WINDOW = RANKED / 2;

// The user's newest messages, newest first (the recency index), until RANKED of them match.
const NEWEST_FIRST = `newest AS (
    SELECT m.id, m.chat_id, m.seq, m.role, m.content, m.created_at
      FROM messages m
     WHERE m.chat_id = ANY($1::uuid[])
     ORDER BY m.created_at DESC, m.id DESC
     LIMIT $7
  ), recent AS (
    SELECT * FROM newest WHERE content ILIKE $2 ORDER BY created_at DESC, id DESC LIMIT $6
  )`;
// Every match, the newest RANKED kept. The candidates come from the trigram index over the text
// with its spaces read as a letter, so a phrase's words must stand in order, and a letter after
// each character beyond ASCII, so two Han characters have trigrams; `content ILIKE` decides (the
// function `search_matches`, migration SearchMatches, which keeps the index whatever ANALYZE's
// sample made the planner expect). Collected in full first (MATERIALIZED): left to order
// by recency under the LIMIT, PostgreSQL read the recency index backwards and checked every
// message until enough matched — 27,000 of them for a phrase in 2%.
const ALL_MATCHES = `matches AS MATERIALIZED (
    SELECT * FROM search_matches($1::uuid[], $7, $2)
  ), recent AS (
    SELECT * FROM matches ORDER BY created_at DESC, id DESC LIMIT $6
  )`;
// A text of one or two ASCII characters (or one beyond ASCII) has no trigram, so no index narrows
// it: every message of the user's chats is read (as the planner sees fit), after the window,
// which serves a common one.
const EVERY_MATCH = `matches AS MATERIALIZED (
    SELECT m.id, m.chat_id, m.seq, m.role, m.content, m.created_at
      FROM messages m
     WHERE m.chat_id = ANY($1::uuid[]) AND m.content ILIKE $2
  ), recent AS (
    SELECT * FROM matches ORDER BY created_at DESC, id DESC LIMIT $6
  )`;
const SNIPPET_CHARS = 200;
const BEFORE_MATCH = 60;
const MAX_HIGHLIGHTS = 20;

const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
// The pattern as the search index reads texts (migration SearchMatches): spaces as the letter q,
// every character beyond ASCII followed by the letter x.
const indexedPattern = (like: string) => like.replaceAll(' ', 'q').replace(/[\u0080-\u{10ffff}]/gu, '$&x');
const regexSource = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// A PostgreSQL regular expression for the text standing alone, not inside a longer word. Every
// character but letters, digits, `_` and spaces is escaped (a backslash before a non-alphanumeric
// character is that character).
const wholeWordPattern = (text: string) =>
  `(^|[^[:alnum:]_])${text.replace(/[^\p{L}\p{N}_ ]/gu, (ch) => `\\${ch}`)}($|[^[:alnum:]_])`;

/**
 * The user's messages that contain a text, in all their chats. PostgreSQL does the matching
 * (ILIKE: over the newest messages for a common text, else served by the pg_trgm index) and
 * the ranking: messages where the text stands as a whole word first, then newer ones.
 */
@Injectable()
export class SearchService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cursors: CursorCodec,
  ) {}

  async search(userId: string, query: SearchQuery): Promise<SearchPage> {
    const q = query.q.trim();
    if (q === '') throw blankQuery();
    const offset = query.cursor ? this.offsetFrom(userId, q, query.cursor) : 0;
    // The user's chats are looked up first and passed as an array: joined instead, PostgreSQL
    // chose one trigram index scan per chat (bench/search.mjs). Ranked among the most recent
    // matches only, so a word found in tens of thousands of messages costs bounded work.
    const chats: { id: string; title: string | null; character_id: string; last_seq: number }[] =
      await this.dataSource.query('SELECT id, title, character_id, last_seq FROM chats WHERE user_id = $1', [userId]);
    if (chats.length === 0) return { items: [], nextCursor: null };
    const ids = chats.map((chat) => chat.id);
    // Two ways to the same answer, as both order alike. The window: the user's newest messages,
    // read newest first; it holds every match when the user has no more messages than it reads
    // (a chat's last seq bounds its count), and a common word's newest RANKED matches otherwise.
    // The index: every match collected through the trigram index, the newest kept; for a rare
    // text, or when the window held fewer than RANKED.
    const messages = chats.reduce((sum, chat) => sum + chat.last_seq, 0);
    const rank = (recent: string, extra: unknown[]) => this.ranked(recent, extra, ids, q, offset, query.limit + 1);
    // A trigram needs three characters as the index reads them (two Han characters make four).
    const indexed = [...indexedPattern(q)].length >= 3;
    const complete = messages <= NEWEST_WINDOW;
    const windowFirst = complete || !indexed || (await this.expectedShare(q)) * NEWEST_WINDOW >= COMMON_IN_WINDOW;
    let found = windowFirst ? await rank(NEWEST_FIRST, [NEWEST_WINDOW]) : [];
    if (!complete && (found.length === 0 || found[0]!.found < RANKED)) {
      found = indexed ? await rank(ALL_MATCHES, [indexedPattern(likePattern(q))]) : await rank(EVERY_MATCH, []);
    }
    const chatById = new Map(chats.map((chat) => [chat.id, chat]));
    const rows: HitRow[] = found.flatMap((row) => {
      const chat = chatById.get(row.chat_id);
      return chat ? [{ ...row, title: chat.title, character_id: chat.character_id }] : [];
    });
    const page = rows.slice(0, query.limit);
    const next = offset + query.limit;
    return {
      items: page.map((row) => toHit(row, q)),
      nextCursor: rows.length > query.limit && next < RANKED ? this.cursors.encode('search', userId, [q, next]) : null,
    };
  }

  /**
   * The newest RANKED matches as `recent` finds them, ranked: whole-word matches first (the
   * text not inside a longer word), then newer ones; with how many matches were ranked.
   */
  private ranked(
    recent: string,
    extra: unknown[],
    chatIds: string[],
    q: string,
    offset: number,
    limit: number,
  ): Promise<(Omit<HitRow, 'title' | 'character_id'> & { found: number })[]> {
    return this.dataSource.query(
      `WITH ${recent}
       SELECT id AS message_id, chat_id, seq, role, content, created_at, count(*) OVER ()::int AS found
         FROM recent
        ORDER BY content ~* $3 DESC, created_at DESC, id DESC
        OFFSET $4 LIMIT $5`,
      [chatIds, likePattern(q), wholeWordPattern(q), offset, limit, RANKED, ...extra],
    );
  }

  /**
   * The share of all messages the planner expects to contain the text: the estimate PostgreSQL
   * plans with (the pattern tried on ANALYZE's sample of texts), at the cost of planning one
   * statement. Its two branches are estimated apart: the matching messages, and all of them.
   */
  private async expectedShare(q: string): Promise<number> {
    const [row]: { 'QUERY PLAN': [{ Plan: { Plans: { 'Plan Rows': number }[] } }] }[] = await this.dataSource.query(
      'EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE content ILIKE $1 UNION ALL SELECT 1 FROM messages',
      [likePattern(q)],
    );
    const [matching, all] = row!['QUERY PLAN'][0].Plan.Plans.map((branch) => branch['Plan Rows']);
    return all ? matching! / all : 1;
  }

  // A cursor names the query it continues: used with another query it is refused.
  private offsetFrom(userId: string, q: string, cursor: string): number {
    const [forQuery, offset] = this.cursors.decode('search', userId, cursor);
    if (forQuery !== q || typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw invalidCursor();
    return offset;
  }
}

function blankQuery(): AppError {
  return new AppError('validation_failed', {
    errors: [{ location: 'query', pointer: '/q', message: 'must contain more than spaces', keyword: 'minLength' }],
  });
}

function toHit(row: HitRow, q: string): SearchHit {
  const { snippet, highlights } = snippetOf(row.content, q);
  return {
    chatId: row.chat_id,
    chatTitle: row.title,
    characterId: row.character_id,
    messageId: row.message_id,
    seq: row.seq,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    snippet,
    highlights,
  };
}

/** The text around the first match, cut at both ends if longer, and where the matches are in it. */
export function snippetOf(
  content: string,
  q: string,
): { snippet: string; highlights: { start: number; end: number }[] } {
  const text = content.replace(/\s+/g, ' ');
  const matcher = new RegExp(regexSource(q), 'giu');
  const first = matcher.exec(text)?.index ?? 0;
  let start = Math.max(0, first - BEFORE_MATCH);
  let end = Math.min(text.length, start + SNIPPET_CHARS);
  // Never cut a character written as two UTF-16 units (an emoji, a rare Han character) in half.
  if (start > 0 && /[\uDC00-\uDFFF]/.test(text[start] ?? '')) start -= 1;
  if (end < text.length && /[\uDC00-\uDFFF]/.test(text[end] ?? '')) end += 1;
  const lead = start > 0 ? '…' : '';
  const snippet = `${lead}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
  const highlights: { start: number; end: number }[] = [];
  const inSnippet = new RegExp(regexSource(q), 'giu');
  for (const match of text.slice(start, end).matchAll(inSnippet)) {
    if (highlights.length === MAX_HIGHLIGHTS) break;
    const at = match.index + lead.length;
    highlights.push({ start: at, end: at + match[0].length });
  }
  return { snippet, highlights };
}
