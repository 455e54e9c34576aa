import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { MessageEntity } from './message.entity.js';

@Entity('tool_calls')
export class ToolCallEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('tool_calls_message_idx')
  @Column({ name: 'message_id', type: 'uuid' })
  messageId: string;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'message_id' })
  message?: MessageEntity;

  @Column({ name: 'tool_name', type: 'varchar', length: 128 })
  toolName: string;

  @Column({ type: 'jsonb', default: {} })
  parameters: Record<string, unknown>;

  @Column({ type: 'jsonb', nullable: true })
  result: unknown;

  @Column({ name: 'executed_at', type: 'timestamptz', precision: 3, nullable: true })
  executedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
