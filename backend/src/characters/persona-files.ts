import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CharacterTranslations } from './character.entity.js';

const text = z.object({
  name: z.string().trim().min(1).max(80),
  description: z.string().trim().min(1).max(500),
  greeting: z.string().trim().min(1).max(1000),
  persona: z.string().trim().min(1).max(8000),
});

const personaFile = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  version: z.number().int().min(1),
  sortOrder: z.number().int().default(0),
  en: text,
  zh: text,
});

export interface PersonaDefinition {
  id: string;
  version: number;
  sortOrder: number;
  translations: CharacterTranslations;
}

/** Reads every persona under `dir`; a malformed file stops the start with its name. */
export function readPersonaFiles(dir: string): PersonaDefinition[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .map((file) => {
      const result = personaFile.safeParse(parse(readFileSync(join(dir, file), 'utf8')));
      if (!result.success) {
        throw new Error(
          `persona ${file} is invalid: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
        );
      }
      const { id, version, sortOrder, en, zh } = result.data;
      if (!file.startsWith(`${id}.`)) throw new Error(`persona ${file} declares id ${id}; name the file after its id`);
      return { id, version, sortOrder, translations: { en, zh } };
    });
}
