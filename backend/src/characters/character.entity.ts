import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import { UserEntity } from '../users/user.entity.js';
import type { CardData } from './card/card.types.js';

export interface CharacterText {
  name: string;
  description: string;
  greeting: string;
  persona: string;
}

export type CharacterTranslations = Record<'en' | 'zh', CharacterText>;

@Entity('characters')
@Check('characters_version_positive', '"version" >= 1')
@Index('characters_owner_idx', ['ownerId', 'createdAt'])
export class CharacterEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'integer' })
  version: number;

  @Column({ name: 'sort_order', type: 'integer', default: 0 })
  sortOrder: number;

  @Column({ type: 'jsonb' })
  translations: CharacterTranslations;

  // A persona whose file was removed, or a user's character they deleted: hidden from the
  // catalogue, kept (frozen) for its existing chats.
  @Column({ type: 'boolean', default: true })
  active: boolean;

  // The user a character belongs to; null for the built-in ones. Private to that user.
  @Column({ name: 'owner_id', type: 'uuid', nullable: true })
  ownerId: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id' })
  owner?: UserEntity;

  // The whole Character Card (V3 `data`), extensions included, as imported or edited; the
  // translations above are derived from it. Built-in characters carry theirs too.
  @Column({ type: 'jsonb', nullable: true })
  card: CardData | null;

  @Column({ name: 'avatar_hash', type: 'varchar', length: 64, nullable: true })
  avatarHash: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
