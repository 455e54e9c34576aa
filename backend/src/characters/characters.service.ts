import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Not, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type {
  Character,
  CharacterDetail,
  CharacterImport,
  CharacterInput,
  CharacterList,
  Locale,
} from '@parley/api-types';
import { repoPaths } from '../config/repo-paths.js';
import { AppError } from '../errors/app-error.js';
import { ModerationService } from '../moderation/moderation.service.js';
import { AvatarsService } from '../avatars/avatars.service.js';
import { ToolRegistry } from '../tools/tool-registry.js';
import { CharacterEntity } from './character.entity.js';
import { cardFromInput, cardTexts, toCharacterDetail, toCharacterDto, translationsOf } from './character.mapper.js';
import { assertPromptSize, parseCard, readPngCard, toV2Card, toV3Card, writePngCard } from './card/card-codec.js';
import type { CardData } from './card/card.types.js';
import { readCharacterCards } from './card-files.js';

export type CardExport =
  { kind: 'json'; card: Record<string, unknown>; name: string } | { kind: 'png'; png: Buffer; name: string };

// Card field → the CharacterInput field it is edited as (for pointers in errors).
const INPUT_FIELDS: Record<string, string> = {
  first_mes: 'firstMessage',
  mes_example: 'exampleDialogue',
  system_prompt: 'systemPrompt',
  post_history_instructions: 'postHistoryInstructions',
  creator_notes: 'creatorNotes',
  alternate_greetings: 'alternateGreetings',
  character_book: 'lorebook',
};

@Injectable()
export class CharactersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(CharactersService.name);

  constructor(
    @InjectRepository(CharacterEntity) private readonly characters: Repository<CharacterEntity>,
    private readonly moderation: ModerationService,
    private readonly avatars: AvatarsService,
    private readonly tools: ToolRegistry,
  ) {}

  // The built-in cards are the source of truth: loaded into the database at every start.
  async onApplicationBootstrap(): Promise<void> {
    const personas = readCharacterCards(repoPaths.prompts);
    await this.characters.manager.transaction(async (manager) => {
      await manager.upsert(
        CharacterEntity,
        // A card's `extensions` are free-form JSON, which TypeORM's deep-partial type cannot express.
        personas.map((p) => ({ ...p, active: true })) as QueryDeepPartialEntity<CharacterEntity>[],
        { conflictPaths: ['id'] },
      );
      // Characters whose files are gone keep their rows (existing chats point at them).
      await manager.update(
        CharacterEntity,
        { id: Not(In(personas.map((p) => p.id))), ownerId: IsNull() },
        { active: false },
      );
    });
    this.logger.log(`loaded ${personas.length} characters`);
  }

  /** The built-in catalogue (what anyone, signed in or not, can see). */
  async list(locale: Locale): Promise<CharacterList> {
    const rows = await this.characters.find({
      where: { active: true, ownerId: IsNull() },
      order: { sortOrder: 'ASC', id: 'ASC' },
    });
    return { items: rows.map((row) => toCharacterDto(row, locale)) };
  }

  /** The user's own characters, newest first, then the built-in ones. */
  async listMine(userId: string, locale: Locale): Promise<CharacterList> {
    const own = await this.characters.find({ where: { active: true, ownerId: userId }, order: { createdAt: 'DESC' } });
    const builtIn = await this.list(locale);
    return { items: [...own.map((row) => toCharacterDto(row, locale)), ...builtIn.items] };
  }

  async get(id: string, locale: Locale): Promise<Character> {
    const character = await this.characters.findOneBy({ id, active: true, ownerId: IsNull() });
    if (!character) throw new AppError('character_not_found');
    return toCharacterDto(character, locale);
  }

  /** A character the user can start a chat with: a built-in one or their own. */
  async loadUsable(id: string, userId: string): Promise<CharacterEntity> {
    const character = await this.characters.findOneBy([
      { id, active: true, ownerId: IsNull() },
      { id, active: true, ownerId: userId },
    ]);
    if (!character) throw new AppError('character_not_found');
    return character;
  }

  async getMine(userId: string, id: string): Promise<CharacterDetail> {
    return toCharacterDetail(await this.loadOwn(userId, id));
  }

  async create(userId: string, input: CharacterInput, locale: Locale): Promise<CharacterDetail> {
    const card = cardFromInput(input, null);
    this.check(card, locale, inputPointer);
    return toCharacterDetail(await this.insert(userId, card, null));
  }

  async update(userId: string, id: string, input: CharacterInput, locale: Locale): Promise<CharacterDetail> {
    const character = await this.loadOwn(userId, id);
    const card = cardFromInput(input, character.card);
    this.check(card, locale, inputPointer);
    character.card = card;
    character.translations = translationsOf(card);
    character.version += 1;
    return toCharacterDetail(await this.characters.save(character));
  }

  // The row stays, frozen, for the chats that use it (specs/013-characters).
  async remove(userId: string, id: string): Promise<void> {
    const character = await this.loadOwn(userId, id);
    await this.characters.update({ id: character.id }, { active: false });
  }

  async import(userId: string, body: unknown, locale: Locale): Promise<CharacterImport> {
    const png = Buffer.isBuffer(body) ? body : null;
    const parsed = parseCard(png ? readPngCard(png) : body);
    this.check(parsed.data, locale, (pointer) => `/data${pointer}`);
    // The picture of a PNG card is its avatar (decoded and re-encoded like any upload).
    const avatarHash = png ? await this.avatars.store(png) : null;
    const character = await this.insert(userId, parsed.data, avatarHash);
    return { character: toCharacterDetail(character), spec: parsed.spec, droppedFields: parsed.droppedFields };
  }

  async export(userId: string, id: string, format: 'json' | 'png', spec: 'v2' | 'v3'): Promise<CardExport> {
    const character = await this.loadOwn(userId, id);
    const card = character.card!;
    const name = fileName(card.name);
    if (format === 'json') return { kind: 'json', card: spec === 'v2' ? toV2Card(card) : toV3Card(card), name };
    return { kind: 'png', png: writePngCard(await this.avatars.png(character.avatarHash), card), name };
  }

  async setAvatar(userId: string, id: string, body: unknown): Promise<CharacterDetail> {
    const character = await this.loadOwn(userId, id);
    character.avatarHash = await this.avatars.store(body);
    return toCharacterDetail(await this.characters.save(character));
  }

  private async insert(userId: string, card: CardData, avatarHash: string | null): Promise<CharacterEntity> {
    return this.characters.save(
      this.characters.create({
        id: `u-${randomUUID()}`,
        version: 1,
        sortOrder: 0,
        ownerId: userId,
        card,
        avatarHash,
        translations: translationsOf(card),
        active: true,
      }),
    );
  }

  private async loadOwn(userId: string, id: string): Promise<CharacterEntity> {
    const character = await this.characters.findOneBy({ id, ownerId: userId, active: true });
    if (!character?.card) throw new AppError('character_not_found');
    return character;
  }

  // Limits first (a clear 400 naming the field), then the content policy's input rules.
  private check(card: CardData, locale: Locale, pointerOf: (cardPointer: string) => string): void {
    assertPromptSize(card);
    for (const { pointer, text } of cardTexts(card)) {
      if (text === '') continue;
      const verdict = this.moderation.check(text, 'input', locale);
      if (verdict.allowed) continue;
      throw new AppError('content_blocked', {
        errors: [
          {
            location: 'body',
            pointer: pointerOf(pointer),
            message: `blocked by the content policy: ${verdict.category}`,
            keyword: 'content_policy',
          },
        ],
      });
    }
  }
}

function inputPointer(cardPointer: string): string {
  const [, field = '', ...rest] = cardPointer.split('/');
  if (field === 'extensions') return `/zh/${rest[2] === 'first_mes' ? 'firstMessage' : rest[2]}`;
  return ['', INPUT_FIELDS[field] ?? field, ...rest].join('/');
}

function fileName(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9 _-]+/g, '')
      .trim()
      .replace(/\s+/g, '_')
      .slice(0, 60) || 'character'
  );
}
