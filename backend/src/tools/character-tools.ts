import type { CharacterEntity } from '../characters/character.entity.js';

/**
 * The tools a character may use: `tools` in its card's Parley extension
 * (`data.extensions.parley.tools`, a list of tool names). None when absent.
 */
export function toolsOf(character: Pick<CharacterEntity, 'card'>): string[] {
  const parley = character.card?.extensions?.parley as { tools?: unknown } | undefined;
  const tools = parley?.tools;
  return Array.isArray(tools) ? tools.filter((t): t is string => typeof t === 'string').slice(0, 64) : [];
}
