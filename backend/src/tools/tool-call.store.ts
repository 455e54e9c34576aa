import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import type { ToolCallStatus, ToolError } from '@parley/api-types';
import { ToolCallEntity } from '../chats/tool-call.entity.js';
import { entityFromRow, rowsOf } from '../database/sql.js';

export interface NewToolCall {
  chatId: string;
  messageId: string;
  step: number;
  index: number;
  toolName: string;
  parameters: Record<string, unknown>;
  idempotent: boolean;
  provider: string;
  attempt: number;
  providerCallId: string | null;
  textOffset: number;
  stepCalls: number;
}

/**
 * The `tool_calls` table: a call is written (pending) before it runs and completed after. A call
 * is identified by (reply, step, index); writing one that exists returns the stored row, so a
 * re-run of the turn finds what already happened instead of doing it again.
 */
@Injectable()
export class ToolCallStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Stores the call as pending, or returns the row already stored under its (reply, step, index). */
  async reserve(call: NewToolCall): Promise<{ row: ToolCallEntity; existed: boolean }> {
    const inserted = await rowsOf<Record<string, unknown>>(
      this.dataSource,
      `INSERT INTO tool_calls (chat_id, message_id, step, call_index, tool_name, parameters, idempotent, provider, attempt, provider_call_id, text_offset, step_calls, status)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, 'pending')
       ON CONFLICT ON CONSTRAINT tool_calls_message_step_index_key DO NOTHING
       RETURNING *`,
      [
        call.chatId,
        call.messageId,
        call.step,
        call.index,
        call.toolName,
        JSON.stringify(call.parameters),
        call.idempotent,
        call.provider,
        call.attempt,
        call.providerCallId,
        call.textOffset,
        call.stepCalls,
      ],
    );
    if (inserted[0]) return { row: entityFromRow(this.dataSource, ToolCallEntity, inserted[0]), existed: false };
    const row = await this.dataSource
      .getRepository(ToolCallEntity)
      .findOneByOrFail({ messageId: call.messageId, step: call.step, index: call.index });
    return { row, existed: true };
  }

  async markRunning(id: string): Promise<ToolCallEntity> {
    return this.update(`UPDATE tool_calls SET status = 'running', executed_at = now() WHERE id = $1 RETURNING *`, [id]);
  }

  async finish(
    id: string,
    outcome: {
      status: Extract<ToolCallStatus, 'complete' | 'failed' | 'interrupted'>;
      result: unknown;
      error: ToolError | null;
    },
  ): Promise<ToolCallEntity> {
    return this.update(
      `UPDATE tool_calls SET status = $2, result = $3::jsonb, error = $4::jsonb,
         executed_at = coalesce(executed_at, now()), finished_at = now(),
         duration_ms = GREATEST(0, round(extract(epoch FROM now() - coalesce(executed_at, now())) * 1000))::integer
       WHERE id = $1 RETURNING *`,
      [
        id,
        outcome.status,
        JSON.stringify(outcome.result ?? null),
        outcome.error ? JSON.stringify(outcome.error) : null,
      ],
    );
  }

  /** Every call of these replies, in order (reply, step, index). */
  async ofMessages(messageIds: string[]): Promise<ToolCallEntity[]> {
    if (messageIds.length === 0) return [];
    return this.dataSource.getRepository(ToolCallEntity).find({
      where: { messageId: In(messageIds) },
      order: { step: 'ASC', index: 'ASC' },
    });
  }

  /**
   * The calls a new attempt of a reply starts from: the reply's own, and those of the reply before
   * it to the same user message when that one failed (a process died; the user asked again).
   */
  async resumable(messageId: string, userMessageId: string): Promise<ToolCallEntity[]> {
    const rows = await rowsOf<Record<string, unknown>>(
      this.dataSource,
      `SELECT t.* FROM tool_calls t
       WHERE t.message_id = $1
          OR t.message_id = (
            SELECT m.id FROM messages m
            WHERE m.reply_to_id = $2 AND m.role = 'assistant' AND m.id <> $1 AND m.status = 'failed'
              AND m.seq = (SELECT max(seq) FROM messages WHERE reply_to_id = $2 AND role = 'assistant' AND id <> $1)
          )
       ORDER BY (t.message_id = $1), t.step, t.call_index`,
      [messageId, userMessageId],
    );
    return rows.map((row) => entityFromRow(this.dataSource, ToolCallEntity, row));
  }

  /** A page of a chat's calls, newest first, after the position (createdAt, id) of the previous page. */
  async page(
    chatId: string,
    limit: number,
    after: { createdAt: string; id: string } | null,
  ): Promise<ToolCallEntity[]> {
    const query = this.dataSource
      .getRepository(ToolCallEntity)
      .createQueryBuilder('call')
      .where('call.chatId = :chatId', { chatId })
      .orderBy('call.createdAt', 'DESC')
      .addOrderBy('call.id', 'DESC')
      .take(limit + 1);
    if (after) query.andWhere('(call.createdAt, call.id) < (:createdAt, :id)', after);
    return query.getMany();
  }

  /**
   * Calls left pending or running by a reply that is no longer being written (its process died):
   * marked interrupted, so nobody mistakes them for running and a side effect is not re-run blindly.
   */
  async interruptOrphans(): Promise<number> {
    const rows = await rowsOf(
      this.dataSource,
      `UPDATE tool_calls t SET status = 'interrupted', finished_at = now(),
         error = jsonb_build_object('code', 'interrupted', 'message', 'the server stopped while the tool was running; it was not run again')
       FROM messages m
       WHERE t.message_id = m.id AND t.status IN ('pending', 'running') AND m.status NOT IN ('pending', 'streaming')
       RETURNING t.id`,
      [],
    );
    return rows.length;
  }

  private async update(sql: string, params: unknown[]): Promise<ToolCallEntity> {
    const [row] = await rowsOf<Record<string, unknown>>(this.dataSource, sql, params);
    return entityFromRow(this.dataSource, ToolCallEntity, row);
  }
}
