import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

// Re-encoded avatar images, addressed by the SHA-256 of their bytes (so never changed in place).
@Entity('avatars')
export class AvatarEntity {
  @PrimaryColumn({ type: 'char', length: 64 })
  hash: string;

  @Column({ name: 'media_type', type: 'varchar', length: 32 })
  mediaType: string;

  @Column({ type: 'bytea' })
  bytes: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
