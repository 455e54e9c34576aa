/** A lorebook entry as the Character Card spec writes it (`character_book.entries[]`). */
export interface CardBookEntry {
  keys: string[];
  content: string;
  extensions: Record<string, unknown>;
  enabled: boolean;
  insertion_order: number;
  case_sensitive?: boolean;
  name?: string;
  priority?: number;
  id?: number | string;
  comment?: string;
  selective?: boolean;
  secondary_keys?: string[];
  constant?: boolean;
  position?: 'before_char' | 'after_char';
  use_regex?: boolean;
}

export interface CardBook {
  name?: string;
  description?: string;
  scan_depth?: number;
  token_budget?: number;
  recursive_scanning?: boolean;
  extensions: Record<string, unknown>;
  entries: CardBookEntry[];
}

/**
 * The `data` of a Character Card V3 (a superset of V2's): what Parley stores for a character.
 * Fields Parley does not use are kept so an exported card gives them back.
 */
export interface CardData {
  name: string;
  description: string;
  personality: string;
  scenario: string;
  first_mes: string;
  mes_example: string;
  creator_notes: string;
  system_prompt: string;
  post_history_instructions: string;
  alternate_greetings: string[];
  character_book?: CardBook;
  tags: string[];
  creator: string;
  character_version: string;
  extensions: Record<string, unknown>;
  // V3 only.
  group_only_greetings: string[];
  nickname?: string;
  creator_notes_multilingual?: Record<string, string>;
  source?: string[];
  creation_date?: number;
  modification_date?: number;
  assets?: Array<{ type: string; uri: string; name: string; ext: string }>;
}

export type CardSpec = 'chara_card_v2' | 'chara_card_v3';
