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
  UpdateDateColumn,
} from 'typeorm';
import type { ErrorCode, MessageRole, MessageStatus } from '@parley/api-types';
import { ChatEntity } from './chat.entity.js';

@Entity('messages')
// A trigram GIN index over the content with its spaces read as a letter and a letter after each
// character beyond ASCII (SearchMatches migration); TypeORM cannot describe its expression or
// operator class.
@Index('messages_content_search_trgm_idx', { synchronize: false })
@Index('messages_created_at_idx', ['createdAt'])
// Children of a message in order: alternatives (siblings) and the walk down a branch.
@Index('messages_parent_seq_idx', ['parentId', 'seq'])
@Unique('messages_chat_seq_key', ['chatId', 'seq'])
@Check('messages_seq_positive', '"seq" >= 1')
@Check('messages_role_check', `"role" IN ('user', 'assistant')`)
@Check('messages_status_check', `"status" IN ('pending', 'streaming', 'complete', 'failed', 'cancelled')`)
export class MessageEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId: string;

  @ManyToOne(() => ChatEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'chat_id' })
  chat?: ChatEntity;

  @Column({ type: 'integer' })
  seq: number;

  @Column({ type: 'varchar', length: 16 })
  role: MessageRole;

  @Column({ type: 'text' })
  content: string;

  @Column({ type: 'varchar', length: 16 })
  status: MessageStatus;

  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true })
  errorCode: ErrorCode | null;

  @Column({ name: 'reply_to_id', type: 'uuid', nullable: true })
  replyToId: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'reply_to_id' })
  replyTo?: MessageEntity;

  // The message this one follows in the conversation tree (specs/009-conversation-tree); null
  // for the chat's first message. Deleting a message deletes its subtree.
  @Column({ name: 'parent_id', type: 'uuid', nullable: true })
  parentId: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'parent_id', foreignKeyConstraintName: 'messages_parent_fk' })
  parent?: MessageEntity;

  @Column({ type: 'varchar', length: 64, nullable: true })
  provider: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  model: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens: number | null;

  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens: number | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ type: 'boolean', default: false })
  degraded: boolean;

  @Column({ type: 'jsonb', default: {} })
  metadata: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
