import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { UserEntity, bigintNumber } from '../users/user.entity.js';
import { MessageEntity } from '../chats/message.entity.js';

export type LedgerKind = 'grant' | 'reservation' | 'settlement' | 'release';

// Every change to a balance leaves a row. A message is charged at most once per kind and
// segment (the partial unique index), so replays and retries cannot charge twice; a continued
// reply is charged once per continuation (segment 1, 2, …).
@Entity('token_ledger')
@Index('token_ledger_message_segment_kind_key', ['messageId', 'segment', 'kind'], {
  unique: true,
  where: '"message_id" IS NOT NULL',
})
@Index('token_ledger_user_idx', ['userId', 'createdAt'])
@Check('token_ledger_kind_check', `"kind" IN ('grant', 'reservation', 'settlement', 'release')`)
export class TokenLedgerEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  // Kept when the chat is deleted: the ledger is the account's history, not the chat's.
  @Column({ name: 'message_id', type: 'uuid', nullable: true })
  messageId: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'message_id' })
  message?: MessageEntity;

  @Column({ type: 'varchar', length: 16 })
  kind: LedgerKind;

  // Which generation of the message this row belongs to: 0 for the reply, n for its n-th continuation.
  @Column({ type: 'integer', default: 0 })
  segment: number;

  // Signed change to the balance: grants positive, charges negative.
  @Column({ type: 'bigint', transformer: bigintNumber() })
  amount: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
