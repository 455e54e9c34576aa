import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export interface CharacterText {
  name: string;
  description: string;
  greeting: string;
  persona: string;
}

export type CharacterTranslations = Record<'en' | 'zh', CharacterText>;

@Entity('characters')
@Check('characters_version_positive', '"version" >= 1')
export class CharacterEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'integer' })
  version: number;

  @Column({ name: 'sort_order', type: 'integer', default: 0 })
  sortOrder: number;

  @Column({ type: 'jsonb' })
  translations: CharacterTranslations;

  // A persona whose file was removed: hidden from the catalogue, kept for its existing chats.
  @Column({ type: 'boolean', default: true })
  active: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
