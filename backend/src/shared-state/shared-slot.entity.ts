import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One slot of a limited key held by one holder (a user's socket), until it expires unrenewed. */
@Entity('shared_slots')
@Index('shared_slots_expires_idx', ['expiresAt'])
export class SharedSlotEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  key: string;

  @PrimaryColumn({ type: 'varchar', length: 100 })
  holder: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
