import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { Locale } from '@parley/api-types';

@Entity('users')
@Check('users_token_balance_non_negative', '"token_balance" >= 0')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  // Stored lower-cased; uniqueness is case-insensitive by construction.
  @Index('users_email_key', { unique: true })
  @Column({ type: 'varchar', length: 254 })
  email: string;

  @Column({ name: 'password_hash', type: 'text' })
  passwordHash: string;

  @Column({ name: 'display_name', type: 'varchar', length: 80, nullable: true })
  displayName: string | null;

  @Column({ type: 'varchar', length: 8, default: 'en' })
  locale: Locale;

  @Column({ name: 'token_balance', type: 'bigint', default: 0, transformer: bigintNumber() })
  tokenBalance: number;

  // Raised by sign-out-everywhere and password changes: tokens carry the version they were
  // issued at and are refused once it moved on.
  @Column({ name: 'token_version', type: 'integer', default: 0 })
  tokenVersion: number;

  // The SHA-256 (hex) of the one outstanding password reset token, and when it lapses.
  @Index('users_password_reset_key', { unique: true, where: '"password_reset_hash" IS NOT NULL' })
  @Column({ name: 'password_reset_hash', type: 'char', length: 64, nullable: true })
  passwordResetHash: string | null;

  @Column({ name: 'password_reset_expires_at', type: 'timestamptz', precision: 3, nullable: true })
  passwordResetExpiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

// pg returns bigint as a string; balances stay far below 2^53.
export function bigintNumber() {
  return { to: (value: number) => value, from: (value: string | null) => (value === null ? null : Number(value)) };
}
