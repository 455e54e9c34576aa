import type {
  Character,
  CharacterDetail,
  CharacterInput,
  CharacterVariant,
  Locale,
  Lorebook,
  LorebookEntry,
} from '@parley/api-types';
import { avatarUrl } from '../avatars/avatars.service.js';
import type { CharacterEntity, CharacterText, CharacterTranslations } from './character.entity.js';
import type { CardBook, CardBookEntry, CardData } from './card/card.types.js';
import { toolsOf } from '../tools/character-tools.js';

export function toCharacterDto(character: CharacterEntity, locale: Locale): Character {
  const text = character.translations[locale];
  return {
    id: character.id,
    name: text.name,
    description: text.description,
    greeting: text.greeting,
    locale,
    alternateGreetings: character.card?.alternate_greetings ?? [],
    avatarUrl: avatarUrl(character.avatarHash),
    builtIn: character.ownerId === null,
    tools: toolsOf(character),
  };
}

export function toCharacterDetail(character: CharacterEntity): CharacterDetail {
  const card = character.card!;
  const zh = chineseVariant(card);
  return {
    id: character.id,
    name: card.name,
    description: card.description,
    personality: card.personality,
    scenario: card.scenario,
    firstMessage: card.first_mes,
    alternateGreetings: card.alternate_greetings,
    exampleDialogue: card.mes_example,
    systemPrompt: card.system_prompt,
    postHistoryInstructions: card.post_history_instructions,
    creatorNotes: card.creator_notes,
    tags: card.tags,
    tools: toolsOf(character),
    ...(zh ? { zh } : {}),
    ...(card.character_book ? { lorebook: toLorebook(card.character_book) } : {}),
    avatarUrl: avatarUrl(character.avatarHash),
    createdAt: character.createdAt.toISOString(),
    updatedAt: character.updatedAt.toISOString(),
  };
}

/**
 * The card an edit produces: the input's fields over the previous card, whose fields Parley does
 * not edit (creator, version, extensions, V3 extras, entries' extensions) are kept.
 */
export function cardFromInput(input: CharacterInput, previous: CardData | null): CardData {
  const extensions = { ...(previous?.extensions ?? {}) };
  const parley = { ...((extensions.parley as Record<string, unknown> | undefined) ?? {}) };
  if (input.zh && Object.values(input.zh).some((v) => v && v.trim() !== '')) {
    parley.zh = {
      name: input.zh.name ?? '',
      description: input.zh.description ?? '',
      first_mes: input.zh.firstMessage ?? '',
    };
  } else {
    delete parley.zh;
  }
  // A character's tools live in its card, so an exported card carries them (specs/010-tools).
  if (input.tools && input.tools.length > 0) parley.tools = [...new Set(input.tools)];
  else delete parley.tools;
  if (Object.keys(parley).length > 0) extensions.parley = parley;
  else delete extensions.parley;
  return {
    ...(previous ?? { creator: '', character_version: '', group_only_greetings: [] }),
    name: input.name.trim(),
    description: input.description ?? '',
    personality: input.personality ?? '',
    scenario: input.scenario ?? '',
    first_mes: input.firstMessage ?? '',
    mes_example: input.exampleDialogue ?? '',
    creator_notes: input.creatorNotes ?? '',
    system_prompt: input.systemPrompt ?? '',
    post_history_instructions: input.postHistoryInstructions ?? '',
    alternate_greetings: input.alternateGreetings ?? [],
    tags: input.tags ?? [],
    extensions,
    character_book: input.lorebook ? toCardBook(input.lorebook, previous?.character_book) : undefined,
  } as CardData;
}

export function toCardBook(book: Lorebook, previous?: CardBook): CardBook {
  return {
    ...(previous ?? {}),
    ...(book.scanDepth !== undefined ? { scan_depth: book.scanDepth } : {}),
    ...(book.tokenBudget !== undefined ? { token_budget: book.tokenBudget } : {}),
    extensions: previous?.extensions ?? {},
    entries: book.entries.map((entry, i) => toCardEntry(entry, previous?.entries[i])),
  };
}

function toCardEntry(entry: LorebookEntry, previous?: CardBookEntry): CardBookEntry {
  const secondary = entry.secondaryKeys ?? [];
  return {
    ...(previous ?? {}),
    keys: entry.keys,
    content: entry.content,
    extensions: previous?.extensions ?? {},
    enabled: entry.enabled ?? true,
    insertion_order: entry.insertionOrder ?? 100,
    case_sensitive: entry.caseSensitive ?? false,
    constant: entry.constant ?? false,
    selective: secondary.length > 0,
    secondary_keys: secondary,
    ...(entry.name !== undefined ? { name: entry.name } : {}),
  };
}

export function toLorebook(book: CardBook): Lorebook {
  return {
    ...(book.scan_depth !== undefined ? { scanDepth: book.scan_depth } : {}),
    ...(book.token_budget !== undefined ? { tokenBudget: book.token_budget } : {}),
    entries: book.entries.map((entry) => ({
      ...(entry.name !== undefined ? { name: entry.name } : {}),
      keys: entry.keys,
      secondaryKeys: entry.selective ? (entry.secondary_keys ?? []) : [],
      content: entry.content,
      insertionOrder: entry.insertion_order,
      enabled: entry.enabled,
      constant: entry.constant ?? false,
      caseSensitive: entry.case_sensitive ?? false,
    })),
  };
}

// The Chinese variant is kept in the card's extensions (`extensions.parley.zh`); an imported card
// may carry anything there, so only strings within the variant's limits count as one.
const VARIANT_LIMITS = { name: 80, description: 8000, first_mes: 4000 } as const;

function chineseVariant(card: CardData): CharacterVariant | undefined {
  const zh = (card.extensions.parley as { zh?: unknown } | undefined)?.zh;
  if (!zh || typeof zh !== 'object') return undefined;
  const fields = zh as Record<string, unknown>;
  const valid = Object.entries(VARIANT_LIMITS).every(([key, max]) => {
    const value = fields[key];
    return value === undefined || (typeof value === 'string' && [...value].length <= max);
  });
  if (!valid) return undefined;
  const text = (key: keyof typeof VARIANT_LIMITS) => (fields[key] as string | undefined) ?? '';
  return { name: text('name'), description: text('description'), firstMessage: text('first_mes') };
}

/** The catalogue texts of a card (name, blurb, greeting), in English and, when given, Chinese. */
export function translationsOf(card: CardData): CharacterTranslations {
  const en: CharacterText = {
    name: card.name,
    description: (card.creator_notes.trim() || card.description).slice(0, 500),
    greeting: card.first_mes,
    persona: '',
  };
  const zh = chineseVariant(card);
  return {
    en,
    zh: {
      name: zh?.name?.trim() || en.name,
      description: zh?.description?.trim() || en.description,
      greeting: zh?.firstMessage?.trim() || en.greeting,
      persona: '',
    },
  };
}

/** Every text of a card that goes to the model or to people, with where it is in the card. */
export function cardTexts(card: CardData): Array<{ pointer: string; text: string }> {
  const texts: Array<{ pointer: string; text: string }> = [
    { pointer: '/name', text: card.name },
    { pointer: '/description', text: card.description },
    { pointer: '/personality', text: card.personality },
    { pointer: '/scenario', text: card.scenario },
    { pointer: '/first_mes', text: card.first_mes },
    { pointer: '/mes_example', text: card.mes_example },
    { pointer: '/system_prompt', text: card.system_prompt },
    { pointer: '/post_history_instructions', text: card.post_history_instructions },
    { pointer: '/creator_notes', text: card.creator_notes },
  ];
  card.alternate_greetings.forEach((text, i) => texts.push({ pointer: `/alternate_greetings/${i}`, text }));
  card.character_book?.entries.forEach((entry, i) =>
    texts.push({ pointer: `/character_book/entries/${i}/content`, text: entry.content }),
  );
  const zh = chineseVariant(card);
  if (zh) {
    texts.push({ pointer: '/extensions/parley/zh/name', text: zh.name ?? '' });
    texts.push({ pointer: '/extensions/parley/zh/description', text: zh.description ?? '' });
    texts.push({ pointer: '/extensions/parley/zh/first_mes', text: zh.firstMessage ?? '' });
  }
  return texts;
}
