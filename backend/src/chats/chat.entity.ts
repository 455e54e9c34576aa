import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { UserEntity } from '../users/user.entity.js';
import { CharacterEntity } from '../characters/character.entity.js';
import type { MessageEntity } from './message.entity.js';
import type { Locale } from '@parley/api-types';
import type { CardBook } from '../characters/card/card.types.js';
import { PersonaEntity } from '../personas/persona.entity.js';

@Entity('chats')
@Check('chats_last_seq_non_negative', '"last_seq" >= 0')
@Index('chats_user_activity_idx', ['userId', 'updatedAt', 'id'])
export class ChatEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ name: 'character_id', type: 'varchar', length: 64 })
  characterId: string;

  @ManyToOne(() => CharacterEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'character_id' })
  character?: CharacterEntity;

  @Column({ type: 'varchar', length: 120, nullable: true })
  title: string | null;

  // Who the user plays in this chat (fills {{user}}); a deleted persona leaves the chat without one.
  @Column({ name: 'persona_id', type: 'uuid', nullable: true })
  personaId: string | null;

  @ManyToOne(() => PersonaEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'persona_id' })
  persona?: PersonaEntity | null;

  // Which greeting opened the chat (0: the first message, then the alternates); the prompt quotes it.
  @Column({ name: 'greeting_index', type: 'smallint', default: 0 })
  greetingIndex: number;

  // A lorebook attached to this chat (in the card's `character_book` form), scanned beside the character's own.
  @Column({ type: 'jsonb', nullable: true })
  lorebook: CardBook | null;

  // The language the chat was started in: its greeting, and the persona text later turns use.
  @Column({ type: 'varchar', length: 8, default: 'en' })
  locale: Locale;

  // Highest seq handed out in this chat; bumped under the row lock by the inserting transaction.
  @Column({ name: 'last_seq', type: 'integer', default: 0 })
  lastSeq: number;

  // The end of the active path (specs/009-conversation-tree): history, the prompt and the
  // preview follow it. Moved under the row lock by every action that changes the path.
  @Column({ name: 'active_leaf_id', type: 'uuid', nullable: true })
  activeLeafId: string | null;

  // By name: message.entity.ts imports this file, so a class reference here would be circular.
  // Deferrable: chats and messages refer to each other, so a restore loads both before checking.
  @ManyToOne('MessageEntity', { onDelete: 'SET NULL', deferrable: 'INITIALLY IMMEDIATE' })
  @JoinColumn({ name: 'active_leaf_id', foreignKeyConstraintName: 'chats_active_leaf_fk' })
  activeLeaf?: Relation<MessageEntity> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  // Last activity (a message or a rename); drives the chat list order. Set explicitly.
  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt: Date;

  // Filled by queries that join the active leaf; not a column.
  lastMessage?: MessageEntity | null;
}
