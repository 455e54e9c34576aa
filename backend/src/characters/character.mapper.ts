import type { Character, Locale } from '@parley/api-types';
import type { CharacterEntity } from './character.entity.js';

export function toCharacterDto(character: CharacterEntity, locale: Locale): Character {
  const text = character.translations[locale];
  return { id: character.id, name: text.name, description: text.description, greeting: text.greeting, locale };
}
