import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';

// What a character wrote with its `remember` tool in one chat; the user sees and prunes it.
@Entity('chat_memory')
@Index('chat_memory_chat_idx', ['chatId', 'createdAt'])
export class ChatMemoryEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId: string;

  @ManyToOne(() => ChatEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'chat_id', foreignKeyConstraintName: 'chat_memory_chat_fk' })
  chat?: ChatEntity;

  @Column({ type: 'text' })
  content: string;

  @Column({ name: 'message_id', type: 'uuid', nullable: true })
  messageId: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'message_id', foreignKeyConstraintName: 'chat_memory_message_fk' })
  message?: MessageEntity;

  // The call that wrote it: a second run of the same call writes nothing (unique).
  @Index('chat_memory_tool_call_key', { unique: true })
  @Column({ name: 'tool_call_id', type: 'uuid', nullable: true })
  toolCallId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
