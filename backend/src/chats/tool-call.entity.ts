import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
} from 'typeorm';
import type { ToolCallStatus, ToolError } from '@parley/api-types';
import { ChatEntity } from './chat.entity.js';
import { MessageEntity } from './message.entity.js';

// A tool call of a reply, written before it runs and completed after (specs/010-tools). It is
// identified by (reply, step, index): a re-run of the turn finds it and reuses its result.
@Entity('tool_calls')
@Unique('tool_calls_message_step_index_key', ['messageId', 'step', 'index'])
@Index('tool_calls_chat_idx', ['chatId', 'createdAt', 'id'])
@Check('tool_calls_status_check', `"status" IN ('pending', 'running', 'complete', 'failed', 'interrupted')`)
export class ToolCallEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('tool_calls_message_idx')
  @Column({ name: 'message_id', type: 'uuid' })
  messageId: string;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'message_id' })
  message?: MessageEntity;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId: string;

  @ManyToOne(() => ChatEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'chat_id', foreignKeyConstraintName: 'tool_calls_chat_fk' })
  chat?: ChatEntity;

  @Column({ type: 'integer' })
  step: number;

  @Column({ name: 'call_index', type: 'integer' })
  index: number;

  @Column({ name: 'tool_name', type: 'varchar', length: 128 })
  toolName: string;

  @Column({ type: 'jsonb', default: {} })
  parameters: Record<string, unknown>;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: ToolCallStatus;

  @Column({ type: 'jsonb', nullable: true })
  result: unknown;

  @Column({ type: 'jsonb', nullable: true })
  error: ToolError | null;

  @Column({ type: 'boolean', default: true })
  idempotent: boolean;

  @Column({ type: 'varchar', length: 64, nullable: true })
  provider: string | null;

  @Column({ type: 'integer', default: 1 })
  attempt: number;

  // The id the model gave the call (OpenAI's `call_…`), echoed back with its result.
  @Column({ name: 'provider_call_id', type: 'varchar', length: 128, nullable: true })
  providerCallId: string | null;

  // The reply's text length when the model asked for the call: where its events go among the deltas.
  @Column({ name: 'text_offset', type: 'integer', default: 0 })
  textOffset: number;

  // How many calls the model asked for in this step (the step's events are complete with them all).
  @Column({ name: 'step_calls', type: 'integer', default: 1 })
  stepCalls: number;

  @Column({ name: 'executed_at', type: 'timestamptz', precision: 3, nullable: true })
  executedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', precision: 3, nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
