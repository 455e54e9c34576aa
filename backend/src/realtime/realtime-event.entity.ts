import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The user's events, as they were published: the store a reconnecting socket reads what it
 * missed from (on any instance). The frame is kept whole in `payload`; the columns beside it
 * are what the reads select on. Rows go after `REALTIME_EVENT_RETENTION_SECONDS`, and the text
 * deltas of a finished reply sooner (its `message.updated` carries the whole text).
 */
@Entity('realtime_events')
@Index('realtime_events_chat_idx', ['userId', 'chatId', 'seq'])
@Index('realtime_events_created_idx', ['createdAt'])
export class RealtimeEventEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId: string;

  @PrimaryColumn({ type: 'bigint' })
  seq: string;

  @Column({ type: 'varchar', length: 32 })
  type: string;

  @Column({ name: 'chat_id', type: 'uuid', nullable: true })
  chatId: string | null;

  @Column({ name: 'message_id', type: 'uuid', nullable: true })
  messageId: string | null;

  @Column({ type: 'jsonb' })
  payload: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

/**
 * Per user: the last event's number (taken under this row's lock, so numbers are gap-free and
 * in commit order) and the horizon, the highest number pruned for age: a client that last saw
 * an event below it has lost events and must resync. No foreign key to users: the row is only a
 * counter, and it must not lock the user's row that billing locks.
 */
@Entity('realtime_sequences')
export class RealtimeSequenceEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'last_seq', type: 'bigint', default: 0 })
  lastSeq: string;

  @Column({ type: 'bigint', default: 0 })
  horizon: string;
}
