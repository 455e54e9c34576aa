import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { Locale, Persona, PersonaInput, PersonaList } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { ModerationService } from '../moderation/moderation.service.js';
import { PersonaEntity } from './persona.entity.js';

function toPersonaDto(persona: PersonaEntity): Persona {
  return {
    id: persona.id,
    name: persona.name,
    description: persona.description,
    isDefault: persona.isDefault,
    createdAt: persona.createdAt.toISOString(),
  };
}

/** Who the user is in their stories; one persona may be the default for new chats. */
@Injectable()
export class PersonasService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly moderation: ModerationService,
  ) {}

  async list(userId: string): Promise<PersonaList> {
    const rows = await this.dataSource
      .getRepository(PersonaEntity)
      .find({ where: { userId }, order: { createdAt: 'ASC' } });
    return { items: rows.map(toPersonaDto) };
  }

  async create(userId: string, input: PersonaInput, locale: Locale): Promise<Persona> {
    this.check(input, locale);
    return this.dataSource.transaction(async (manager) => {
      await this.lockUser(manager, userId);
      const repo = manager.getRepository(PersonaEntity);
      // The first persona is the default whatever it says.
      const first = !(await repo.existsBy({ userId }));
      const isDefault = first || input.isDefault === true;
      if (isDefault) await this.clearDefault(manager, userId);
      const saved = await repo.save(
        repo.create({ userId, name: input.name.trim(), description: input.description ?? '', isDefault }),
      );
      return toPersonaDto(saved);
    });
  }

  async update(userId: string, id: string, input: PersonaInput, locale: Locale): Promise<Persona> {
    this.check(input, locale);
    return this.dataSource.transaction(async (manager) => {
      await this.lockUser(manager, userId);
      const repo = manager.getRepository(PersonaEntity);
      const persona = await repo.findOneBy({ id, userId });
      if (!persona) throw new AppError('persona_not_found');
      if (input.isDefault === true && !persona.isDefault) {
        await this.clearDefault(manager, userId);
        persona.isDefault = true;
      }
      persona.name = input.name.trim();
      persona.description = input.description ?? '';
      return toPersonaDto(await repo.save(persona));
    });
  }

  async remove(userId: string, id: string): Promise<void> {
    const result = await this.dataSource.getRepository(PersonaEntity).delete({ id, userId });
    if (!result.affected) throw new AppError('persona_not_found');
  }

  /** The persona a new chat uses: the one asked for (the user's own), else the default, else none. */
  async choose(userId: string, personaId: string | undefined): Promise<PersonaEntity | null> {
    const repo = this.dataSource.getRepository(PersonaEntity);
    if (personaId === undefined) return repo.findOneBy({ userId, isDefault: true });
    const persona = await repo.findOneBy({ id: personaId, userId });
    if (!persona) throw new AppError('persona_not_found');
    return persona;
  }

  // One persona write per user at a time: two at once could both clear the default and both set
  // theirs (the unique index on the default would then refuse one with a 500).
  private async lockUser(manager: EntityManager, userId: string): Promise<void> {
    await manager.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
  }

  private async clearDefault(manager: EntityManager, userId: string): Promise<void> {
    await manager.getRepository(PersonaEntity).update({ userId, isDefault: true }, { isDefault: false });
  }

  private check(input: PersonaInput, locale: Locale): void {
    for (const [pointer, text] of [
      ['/name', input.name],
      ['/description', input.description ?? ''],
    ] as const) {
      const verdict = this.moderation.check(text, 'input', locale);
      if (verdict.allowed) continue;
      throw new AppError('content_blocked', {
        errors: [
          {
            location: 'body',
            pointer,
            message: `blocked by the content policy: ${verdict.category}`,
            keyword: 'content_policy',
          },
        ],
      });
    }
  }
}
