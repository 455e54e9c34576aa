import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A recent successful reply, by the hash of the exact provider request that produced it: the
 * cached degraded fallback's store, shared by every instance, trimmed to the newest N rows.
 */
@Entity('provider_reply_cache')
@Index('provider_reply_cache_created_idx', ['createdAt'])
export class CachedReplyEntity {
  /** SHA-256 (hex) of the provider request: persona, history, model settings. */
  @PrimaryColumn({ type: 'char', length: 64 })
  key: string;

  @Column({ type: 'text' })
  text: string;

  @Column({ type: 'varchar', length: 64 })
  provider: string;

  @Column({ type: 'varchar', length: 128 })
  model: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
