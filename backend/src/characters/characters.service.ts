import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Not, Repository } from 'typeorm';
import type { Character, CharacterList, Locale } from '@parley/api-types';
import { repoPaths } from '../config/repo-paths.js';
import { AppError } from '../errors/app-error.js';
import { CharacterEntity } from './character.entity.js';
import { toCharacterDto } from './character.mapper.js';
import { readPersonaFiles } from './persona-files.js';

@Injectable()
export class CharactersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(CharactersService.name);

  constructor(@InjectRepository(CharacterEntity) private readonly characters: Repository<CharacterEntity>) {}

  // The persona files are the source of truth: loaded into the database at every start.
  async onApplicationBootstrap(): Promise<void> {
    const personas = readPersonaFiles(repoPaths.prompts);
    await this.characters.manager.transaction(async (manager) => {
      await manager.upsert(
        CharacterEntity,
        personas.map((p) => ({ ...p, active: true })),
        { conflictPaths: ['id'] },
      );
      // Characters whose files are gone keep their rows (existing chats point at them).
      await manager.update(CharacterEntity, { id: Not(In(personas.map((p) => p.id))) }, { active: false });
    });
    this.logger.log(`loaded ${personas.length} characters`);
  }

  async list(locale: Locale): Promise<CharacterList> {
    const rows = await this.characters.find({ where: { active: true }, order: { sortOrder: 'ASC', id: 'ASC' } });
    return { items: rows.map((row) => toCharacterDto(row, locale)) };
  }

  async get(id: string, locale: Locale): Promise<Character> {
    return toCharacterDto(await this.loadActive(id), locale);
  }

  /** A character that can start new chats. */
  async loadActive(id: string): Promise<CharacterEntity> {
    const character = await this.characters.findOneBy({ id, active: true });
    if (!character) throw new AppError('character_not_found');
    return character;
  }
}
