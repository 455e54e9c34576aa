import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { ChatEntity } from '../chats/chat.entity.js';

/** A chat's breaker, shared by every instance; no row means closed with no failures. */
@Entity('chat_breaker_states')
export class ChatBreakerStateEntity {
  @PrimaryColumn({ name: 'chat_id', type: 'uuid' })
  chatId: string;

  @ManyToOne(() => ChatEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'chat_id' })
  chat?: ChatEntity;

  // Consecutive failed turns while closed.
  @Column({ type: 'integer', default: 0 })
  failures: number;

  // Open until then; half-open after it (until a probe succeeds or fails).
  @Column({ name: 'open_until', type: 'timestamptz', nullable: true })
  openUntil: Date | null;

  // The half-open probe running, until then (a probe that dies frees the slot after it).
  @Column({ name: 'probe_until', type: 'timestamptz', nullable: true })
  probeUntil: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
