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
  // The same with the `g` flag, for a scan that starts at `lastIndex` (stateful: reset before use).
  termsFrom: RegExp | null;
  groups: string[];
  // The most letters (characters that are not separators) of any term: a term found in appended
  // text starts at most that many letters back, whatever separators lie between them.
  termLetters: number;
  // `from`: the `g` copy; `maxLength`: the longest text it can match (UTF-16 units of the
  // normalized text), null when unbounded or not known (then it reads the whole text).
  patterns: { category: string; regex: RegExp; from: RegExp; maxLength: number | null }[];
}

// Text before a window that matchers see but never start a match in: the lookbehinds of terms
// and patterns read it (patterns with a longer lookbehind count as unbounded).
const CONTEXT_UNITS = 64;
// How far back a window reaches at most, however many separators the text has before its last
// letters: a term spread over more separators than this across two pieces is not caught.
const MAX_OVERLAP_UNITS = 4096;

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
      const matcher: Matcher = { terms: null, termsFrom: null, groups: [], termLetters: 0, patterns: [] };
      for (const [category, rules] of entries) {
        if (!rules.appliesTo.includes(stage)) continue;
        const compiled = [
          ...(rules.any?.terms ?? []).map((t) => termSource(t, 'word')),
          ...(rules[locale]?.terms ?? []).map((t) => termSource(t, locale === 'zh' ? 'substring' : 'word')),
        ];
        for (const t of [...(rules.any?.terms ?? []), ...(rules[locale]?.terms ?? [])]) {
          matcher.termLetters = Math.max(matcher.termLetters, significantChars(t).length);
        }
        const wordAlternatives = compiled.filter((t) => t.startsWord).map((t) => t.source);
        const otherAlternatives = compiled.filter((t) => !t.startsWord).map((t) => t.source);
        if (wordAlternatives.length > 0) words.push({ category, source: wordAlternatives.join('|') });
        if (otherAlternatives.length > 0) substrings.push({ category, source: otherAlternatives.join('|') });
        for (const source of [...(rules.any?.patterns ?? []), ...(rules[locale]?.patterns ?? [])]) {
          const maxLength = maxMatchLength(source);
          matcher.patterns.push({
            category,
            regex: compiledPattern(source),
            from: new RegExp(source, `g${PATTERN_FLAGS}`),
            maxLength: maxLength === null || maxLength.lookbehind > CONTEXT_UNITS ? null : maxLength.match,
          });
        }
      }
      const branches: string[] = [];
      if (words.length > 0) branches.push(`${WORD_START}(?:${words.map((w) => `(${w.source})`).join('|')})`);
      branches.push(...substrings.map((s) => `(${s.source})`));
      matcher.groups = [...words, ...substrings].map((g) => g.category);
      if (branches.length > 0) {
        matcher.terms = new RegExp(branches.join('|'), 'u');
        matcher.termsFrom = new RegExp(branches.join('|'), 'gu');
      }
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

  /**
   * The same verdict as `match(before + added)` for text that grows piece by piece (a streamed
   * reply), given that `before` was already found clean: only a window is read — the added text
   * and as much of `before` as a match ending in it can start in (the longest term's letters with
   * the separators between them, the longest pattern), plus a little context for lookbehinds. The
   * cost per piece is bounded by the piece and the policy, not by the reply's length.
   */
  matchAppended(before: string, added: string, stage: ModerationStage, locale: Locale): string | null {
    const matcher = this.matchers[stage][locale];
    if (!matcher.terms && matcher.patterns.length === 0) return null;
    if (before.length === 0) return this.match(added, stage, locale);
    let patternUnits = 0;
    for (const p of matcher.patterns) patternUnits = Math.max(patternUnits, p.maxLength ?? 0);
    const start = windowStart(before, matcher.termLetters, patternUnits);
    const contextStart = backToStarter(before, Math.max(0, start - CONTEXT_UNITS));
    // A short text: the window would be all of it.
    if (contextStart === 0) return this.match(before + added, stage, locale);
    const window = normalizeForModeration(before.slice(contextStart) + added);
    // Where matches may start: the normalized context, less a unit or two the normalization of the
    // joined text may have merged (a whitespace run, a composed pair) across the boundary.
    const from = Math.max(0, normalizeForModeration(before.slice(contextStart, start)).length - 2);
    if (matcher.termsFrom) {
      matcher.termsFrom.lastIndex = from;
      const hit = matcher.termsFrom.exec(window);
      if (hit) {
        for (let i = 0; i < matcher.groups.length; i++) {
          if (hit[i + 1] !== undefined) return matcher.groups[i];
        }
      }
    }
    let whole: string | undefined;
    for (const p of matcher.patterns) {
      if (p.maxLength === null) {
        // Unbounded: the whole text, as `match` reads it.
        whole ??= normalizeForModeration(before + added);
        if (p.regex.test(whole)) return p.category;
        continue;
      }
      p.from.lastIndex = from;
      if (p.from.test(window)) return p.category;
    }
    return null;
  }
}

const WHITESPACE = /\s/u;
const MARK_OR_FORMAT = /[\p{M}\p{Cf}]/u;

/**
 * Where in `before` a match that ends in the appended text can start, at the earliest: back over
 * `termLetters` characters that are letters of a term after normalization (separators between
 * them do not count), and back over enough text to hold `patternUnits` units of normalized text
 * (whitespace runs, marks and invisible characters can shrink; Hangul jamo compose three into
 * one, hence the factor of three). Bounded by MAX_OVERLAP_UNITS.
 */
function windowStart(before: string, termLetters: number, patternUnits: number): number {
  const floor = Math.max(0, before.length - MAX_OVERLAP_UNITS);
  let letters = 0;
  let units = 0;
  const lettersNeeded = termLetters + 1;
  const unitsNeeded = patternUnits * 3 + 2;
  let i = before.length;
  while (i > floor && (letters < lettersNeeded || units < unitsNeeded)) {
    let code = before.charCodeAt(i - 1);
    let width = 1;
    if (code >= 0xdc00 && code <= 0xdfff && i - 2 >= 0) {
      const high = before.charCodeAt(i - 2);
      if (high >= 0xd800 && high <= 0xdbff) {
        code = ((high - 0xd800) << 10) + (code - 0xdc00) + 0x10000;
        width = 2;
      }
    }
    i -= width;
    const ch = before.slice(i, i + width);
    if (!isSeparatorAfterNormalizing(ch, code)) letters++;
    if (!MARK_OR_FORMAT.test(ch) && !(WHITESPACE.test(ch) && i > 0 && WHITESPACE.test(before[i - 1]!))) units++;
  }
  return backToStarter(before, i);
}

function isSeparatorAfterNormalizing(ch: string, code: number): boolean {
  if (code < 0x80) return SEPARATOR.test(ch) || code < 0x20;
  const normalized = normalizeForModeration(ch);
  for (const c of normalized) if (!SEPARATOR.test(c)) return false;
  return true;
}

// Moves an index back off a low surrogate, a combining mark or a whitespace run it would split.
function backToStarter(text: string, index: number): number {
  let i = index;
  const floor = Math.max(0, index - 256);
  while (i > floor) {
    const code = text.charCodeAt(i);
    const ch = text[i]!;
    if ((code >= 0xdc00 && code <= 0xdfff) || MARK_OR_FORMAT.test(ch) || WHITESPACE.test(ch)) i--;
    else break;
  }
  return i;
}

/**
 * The longest text a pattern (in `u` mode) can match, in UTF-16 units (any character class or
 * escape counted as a surrogate pair), and its longest lookbehind; null when a quantifier is
 * unbounded or the pattern uses a back reference.
 */
export function maxMatchLength(source: string): { match: number; lookbehind: number } | null {
  let at = 0;
  let lookbehind = 0;
  const peek = () => source[at];
  const alternation = (): number => {
    let best = sequence();
    while (peek() === '|') {
      at++;
      best = Math.max(best, sequence());
    }
    return best;
  };
  const sequence = (): number => {
    let total = 0;
    while (at < source.length && peek() !== '|' && peek() !== ')') total += quantified(atom());
    return total;
  };
  const atom = (): number => {
    const ch = source[at++]!;
    switch (ch) {
      case '^':
      case '$':
        return 0;
      case '.':
        return 2;
      case '[': {
        while (at < source.length && source[at] !== ']') at += source[at] === '\\' ? 2 : 1;
        at++;
        return 2;
      }
      case '(': {
        let kind: 'group' | 'ahead' | 'behind' = 'group';
        if (source.startsWith('?:', at)) at += 2;
        else if (source.startsWith('?=', at) || source.startsWith('?!', at)) {
          at += 2;
          kind = 'ahead';
        } else if (source.startsWith('?<=', at) || source.startsWith('?<!', at)) {
          at += 3;
          kind = 'behind';
        } else if (source.startsWith('?<', at)) at = source.indexOf('>', at) + 1;
        const inner = alternation();
        at++; // ')'
        if (kind === 'behind') lookbehind = Math.max(lookbehind, inner);
        // A lookahead reads past the match: counted, so a match it lets end early is still in reach.
        return kind === 'behind' ? 0 : inner;
      }
      case '\\': {
        const next = source[at++]!;
        if (next === 'b' || next === 'B') return 0;
        if (/[1-9k]/.test(next)) return Number.POSITIVE_INFINITY;
        if (next === 'p' || next === 'P' || (next === 'u' && peek() === '{')) {
          if (peek() === '{') at = source.indexOf('}', at) + 1;
          return 2;
        }
        if (next === 'u') {
          at += 4;
          return 1;
        }
        if (next === 'x') {
          at += 2;
          return 1;
        }
        if (next === 'c') {
          at++;
          return 1;
        }
        return 2;
      }
      default:
        return ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdbff ? (at++, 2) : 1;
    }
  };
  const quantified = (length: number): number => {
    const q = peek();
    let times = 1;
    if (q === '?') {
      at++;
    } else if (q === '*' || q === '+') {
      at++;
      times = Number.POSITIVE_INFINITY;
    } else if (q === '{') {
      const close = source.indexOf('}', at);
      const bounds = /^\{(\d+)(,(\d*))?\}$/.exec(source.slice(at, close + 1));
      if (bounds) {
        at = close + 1;
        times = bounds[2] === undefined ? Number(bounds[1]) : bounds[3] ? Number(bounds[3]) : Number.POSITIVE_INFINITY;
      }
    }
    if (times !== 1 && peek() === '?') at++;
    return length === 0 ? 0 : length * times;
  };
  const match = alternation();
  if (!Number.isFinite(match) || !Number.isFinite(lookbehind)) return null;
  return { match, lookbehind };
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
