import { readFileSync } from 'node:fs';
import type { Locale } from '@parley/api-types';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/app-config.js';

export const MODERATION_STAGES = ['input', 'output'] as const;
export type ModerationStage = (typeof MODERATION_STAGES)[number];

// Characters a writer can slip between the letters of a term without changing how it reads:
// whitespace, combining marks (zalgo), dashes, connectors and a few punctuation marks.
const SEPARATOR_CLASS = String.raw`[\s\p{M}\p{Pd}\p{Pc}.*~+/\\|'’·・•‧]`;
const SEPARATOR = new RegExp(`^${SEPARATOR_CLASS}$`, 'u');
// Scripts written without spaces: a neighbouring character from them does not join a word.
const UNSPACED_SCRIPT = String.raw`[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]`;
const WORD_CHAR = String.raw`(?!${UNSPACED_SCRIPT})[\p{L}\p{N}]`;
// Shared by every term that starts a word: one lookbehind per position rather than one per term.
const WORD_START = String.raw`(?<!${WORD_CHAR}\p{M}*)`;
const WORD_END = String.raw`(?!\p{M}*${WORD_CHAR})`;
const NEEDS_BOUNDARY = new RegExp(`^${WORD_CHAR}$`, 'u');
const FORMAT_CHARS = /\p{Cf}+/gu;
const WHITESPACE_RUN = /\s+/gu;
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/gu;
const PATTERN_FLAGS = 'iu';
const CATEGORY_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The text the matchers see: NFKC (full-width and styled letters become plain ones), lower case,
 * zero-width and other invisible format characters removed, whitespace runs collapsed.
 */
export function normalizeForModeration(text: string): string {
  return text.replace(FORMAT_CHARS, '').normalize('NFKC').toLowerCase().replace(WHITESPACE_RUN, ' ');
}

// A term is the sequence of its letters; separators inside it, or inserted by a writer, do not count.
function significantChars(term: string): string[] {
  return [...normalizeForModeration(term)].filter((ch) => !SEPARATOR.test(ch));
}

const term = z
  .string()
  .max(200)
  .refine((value) => significantChars(value).length >= 2, {
    message: 'a term needs at least two characters besides spaces and separators',
  });

const pattern = z
  .string()
  .min(1)
  .max(500)
  .superRefine((value, ctx) => {
    let compiled: RegExp;
    try {
      compiled = new RegExp(value, PATTERN_FLAGS);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: reason(error) });
      return;
    }
    if (compiled.test(''))
      ctx.addIssue({ code: 'custom', message: 'pattern matches empty text (it would block everything)' });
  });

const localeRules = z.strictObject({
  terms: z.array(term).default([]),
  patterns: z.array(pattern).default([]),
});

const category = z
  .strictObject({
    description: z.string().optional(),
    appliesTo: z
      .array(z.enum(MODERATION_STAGES))
      .min(1)
      .refine((stages) => new Set(stages).size === stages.length, { message: 'lists a stage twice' }),
    en: localeRules.optional(),
    zh: localeRules.optional(),
    any: localeRules.optional(),
  })
  .refine((c) => [c.en, c.zh, c.any].some((rules) => rules && rules.terms.length + rules.patterns.length > 0), {
    message: 'needs at least one term or pattern',
  });

const policyFile = z.strictObject({
  version: z.union([z.string().trim().min(1).max(64), z.number().nonnegative()]).transform(String),
  categories: z.record(z.string(), category).superRefine((categories, ctx) => {
    const names = Object.keys(categories);
    if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one category' });
    // Checked here rather than as the record's key schema, whose issue would not say what is wrong.
    for (const name of names.filter((n) => !CATEGORY_NAME.test(n))) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'category names are snake_case (a-z, 0-9, _)' });
    }
  }),
});

type PolicyFile = z.output<typeof policyFile>;

export class ModerationPolicyError extends ConfigError {}

interface Matcher {
  // `(?<!word)(?:(cat A words)|(cat B words))|(cat A substrings)|…`, null when empty;
  // `groups[i]` names the category of capturing group i + 1.
  terms: RegExp | null;
  groups: string[];
  patterns: { category: string; regex: RegExp }[];
}

/** A validated policy with its matchers compiled once, per stage and locale. */
export class ModerationPolicy {
  private constructor(
    readonly version: string,
    readonly categories: readonly string[],
    private readonly matchers: Record<ModerationStage, Record<Locale, Matcher>>,
  ) {}

  static compile(file: PolicyFile): ModerationPolicy {
    const entries = Object.entries(file.categories);
    // Patterns are shared by every matcher that uses them (no `g` flag, so they carry no state).
    const patterns = new Map<string, RegExp>();
    const compiledPattern = (source: string): RegExp => {
      let regex = patterns.get(source);
      if (!regex) patterns.set(source, (regex = new RegExp(source, PATTERN_FLAGS)));
      return regex;
    };
    const build = (stage: ModerationStage, locale: Locale): Matcher => {
      const words: { category: string; source: string }[] = [];
      const substrings: { category: string; source: string }[] = [];
      const matcher: Matcher = { terms: null, groups: [], patterns: [] };
      for (const [category, rules] of entries) {
        if (!rules.appliesTo.includes(stage)) continue;
        const compiled = [
          ...(rules.any?.terms ?? []).map((t) => termSource(t, 'word')),
          ...(rules[locale]?.terms ?? []).map((t) => termSource(t, locale === 'zh' ? 'substring' : 'word')),
        ];
        const wordAlternatives = compiled.filter((t) => t.startsWord).map((t) => t.source);
        const otherAlternatives = compiled.filter((t) => !t.startsWord).map((t) => t.source);
        if (wordAlternatives.length > 0) words.push({ category, source: wordAlternatives.join('|') });
        if (otherAlternatives.length > 0) substrings.push({ category, source: otherAlternatives.join('|') });
        for (const source of [...(rules.any?.patterns ?? []), ...(rules[locale]?.patterns ?? [])]) {
          matcher.patterns.push({ category, regex: compiledPattern(source) });
        }
      }
      const branches: string[] = [];
      if (words.length > 0) branches.push(`${WORD_START}(?:${words.map((w) => `(${w.source})`).join('|')})`);
      branches.push(...substrings.map((s) => `(${s.source})`));
      matcher.groups = [...words, ...substrings].map((g) => g.category);
      if (branches.length > 0) matcher.terms = new RegExp(branches.join('|'), 'u');
      return matcher;
    };
    return new ModerationPolicy(
      file.version,
      entries.map(([name]) => name),
      {
        input: { en: build('input', 'en'), zh: build('input', 'zh') },
        output: { en: build('output', 'en'), zh: build('output', 'zh') },
      },
    );
  }

  /** The first category the text falls under at this stage, or null. Never returns the text itself. */
  match(text: string, stage: ModerationStage, locale: Locale): string | null {
    const matcher = this.matchers[stage][locale];
    if (!matcher.terms && matcher.patterns.length === 0) return null;
    const normalized = normalizeForModeration(text);
    const hit = matcher.terms?.exec(normalized);
    if (hit) {
      for (let i = 0; i < matcher.groups.length; i++) {
        if (hit[i + 1] !== undefined) return matcher.groups[i];
      }
    }
    for (const { category, regex } of matcher.patterns) {
      if (regex.test(normalized)) return category;
    }
    return null;
  }
}

/**
 * A term as a regular expression: its letters in order with any separators between them.
 * 'word' mode (en, any) requires it to stand as a whole word where it starts or ends with a letter
 * of a spaced script ("kill" does not match "skill"); 'substring' mode (zh) matches anywhere.
 * `startsWord` terms get their start boundary from the shared WORD_START.
 */
function termSource(value: string, mode: 'word' | 'substring'): { source: string; startsWord: boolean } {
  const chars = significantChars(value);
  const startsWord = mode === 'word' && NEEDS_BOUNDARY.test(chars[0] ?? '');
  const endsWord = mode === 'word' && NEEDS_BOUNDARY.test(chars.at(-1) ?? '');
  const body = chars.map((ch) => ch.replace(REGEX_SYNTAX, '\\$&')).join(`${SEPARATOR_CLASS}*`);
  return { source: endsWord ? `${body}${WORD_END}` : body, startsWord };
}

/** Reads, validates and compiles a policy file; a bad file stops the start with its name and the field. */
export function loadModerationPolicy(file: string): ModerationPolicy {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ModerationPolicyError(`Invalid moderation policy ${file}: cannot read it (${reason(error)})`);
  }
  let document: unknown;
  try {
    document = parse(source);
  } catch (error) {
    throw new ModerationPolicyError(`Invalid moderation policy ${file}: not valid YAML (${reason(error)})`);
  }
  const parsed = policyFile.safeParse(document);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ModerationPolicyError(`Invalid moderation policy ${file}:\n${lines.join('\n')}`);
  }
  return ModerationPolicy.compile(parsed.data);
}

// Not `instanceof Error`: errors from node:fs may come from another realm (jest's VM modules).
function reason(error: unknown): string {
  return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
}
