import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One key's current quota window (turns per user), shared by every instance. */
@Entity('rate_limit_windows')
@Index('rate_limit_windows_ends_idx', ['windowEndsAt'])
export class RateLimitWindowEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  key: string;

  @Column({ type: 'integer' })
  hits: number;

  @Column({ name: 'window_ends_at', type: 'timestamptz' })
  windowEndsAt: Date;
}
