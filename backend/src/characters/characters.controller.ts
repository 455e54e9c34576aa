import { Controller, Get, Param } from '@nestjs/common';
import type { Character, CharacterList, Locale } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { Public } from '../auth/public.decorator.js';
import { RequestLocale } from '../i18n/request-locale.decorator.js';
import { CharactersService } from './characters.service.js';

@Controller('api/v1/characters')
@Public()
export class CharactersController {
  constructor(private readonly characters: CharactersService) {}

  @Get()
  @ContractOperation('listCharacters')
  list(@RequestLocale() locale: Locale): Promise<CharacterList> {
    return this.characters.list(locale);
  }

  @Get(':characterId')
  @ContractOperation('getCharacter')
  get(@Param('characterId') characterId: string, @RequestLocale() locale: Locale): Promise<Character> {
    return this.characters.get(characterId, locale);
  }
}
