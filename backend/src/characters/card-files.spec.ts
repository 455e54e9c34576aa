import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPaths } from '../config/repo-paths.js';
import { readCharacterCards } from './card-files.js';

describe(readCharacterCards.name, () => {
  it('reads the built-in characters as V3 cards with English and Chinese texts', () => {
    const characters = readCharacterCards(repoPaths.prompts);
    expect(characters.map((c) => c.id).sort()).toEqual([
      'captain-mira',
      'chef-lucia',
      'detective-harlan',
      'tutor-orin',
    ]);
    for (const character of characters) {
      expect(character.card.name).toBe(character.translations.en.name);
      expect(character.translations.zh.persona.length).toBeGreaterThan(100);
      expect(character.translations.en.persona).toBe(character.card.system_prompt);
    }
  });

  it('stops the start on a card that is not one, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cards-'));
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ spec: 'chara_card_v1', data: { name: 'x' } }));
    expect(() => readCharacterCards(dir)).toThrow(/broken\.json/);
  });

  it('refuses a card whose file name is not its id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cards-'));
    const card = {
      spec: 'chara_card_v3',
      data: {
        name: 'A',
        first_mes: 'Hi',
        creator_notes: 'An A.',
        system_prompt: 'You are A.',
        extensions: {
          parley: {
            id: 'a',
            version: 1,
            zh: { name: '甲', description: '甲。', first_mes: '你好', system_prompt: '你是甲。' },
          },
        },
      },
    };
    writeFileSync(join(dir, 'b.json'), JSON.stringify(card));
    expect(() => readCharacterCards(dir)).toThrow(/declares id a/);
  });
});
