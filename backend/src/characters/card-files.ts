import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseCard } from './card/card-codec.js';
import type { CardData } from './card/card.types.js';
import type { CharacterTranslations } from './character.entity.js';

// Parley's own fields of a built-in card, under `data.extensions.parley`.
const builtIn = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  version: z.number().int().min(1),
  sortOrder: z.number().int().default(0),
  // The tools the character may call (names from the tool registry; specs/010-tools).
  tools: z
    .array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/))
    .max(64)
    .default([]),
  zh: z.object({
    name: z.string().trim().min(1).max(80),
    description: z.string().trim().min(1).max(500),
    first_mes: z.string().trim().min(1).max(1000),
    system_prompt: z.string().trim().min(1).max(8000),
  }),
});

export interface BuiltInCharacter {
  id: string;
  version: number;
  sortOrder: number;
  translations: CharacterTranslations;
  card: CardData;
}

/**
 * Reads every built-in character under `dir`: ordinary Character Cards (V3 JSON, read by the
 * same codec as imports) whose `extensions.parley` gives the id, version, catalogue order and
 * the Chinese texts. A malformed file stops the start with its name.
 */
export function readCharacterCards(dir: string): BuiltInCharacter[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      let data: CardData;
      try {
        data = parseCard(JSON.parse(readFileSync(join(dir, file), 'utf8'))).data;
      } catch (error) {
        throw new Error(`character card ${file} is invalid: ${String((error as Error).message)}`, { cause: error });
      }
      const result = builtIn.safeParse(data.extensions.parley);
      if (!result.success) {
        throw new Error(
          `character card ${file} is invalid: ${result.error.issues.map((i) => `extensions.parley.${i.path.join('.')} ${i.message}`).join('; ')}`,
        );
      }
      const { id, version, sortOrder, zh } = result.data;
      if (file !== `${id}.json`)
        throw new Error(`character card ${file} declares id ${id}; name the file after its id`);
      for (const [field, value] of [
        ['creator_notes', data.creator_notes],
        ['first_mes', data.first_mes],
        ['system_prompt', data.system_prompt],
      ] as const) {
        if (value.trim() === '') throw new Error(`character card ${file} needs ${field}`);
      }
      return {
        id,
        version,
        sortOrder,
        card: data,
        translations: {
          en: {
            name: data.name,
            description: data.creator_notes,
            greeting: data.first_mes,
            persona: data.system_prompt,
          },
          zh: { name: zh.name, description: zh.description, greeting: zh.first_mes, persona: zh.system_prompt },
        },
      };
    });
}
