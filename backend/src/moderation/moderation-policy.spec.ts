import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/app-config.js';
import { repoPaths } from '../config/repo-paths.js';
import {
  ModerationPolicyError,
  loadModerationPolicy,
  maxMatchLength,
  normalizeForModeration,
} from './moderation-policy.js';

const defaultPolicyFile = join(repoPaths.root, 'backend', 'moderation', 'policy.yaml');
const dir = mkdtempSync(join(tmpdir(), 'parley-policy-'));
let fileCount = 0;

// Policies are files in production, so the error messages are tested against real files too.
function writePolicy(source: string): string {
  const file = join(dir, `policy-${++fileCount}.yaml`);
  writeFileSync(file, source);
  return file;
}

const valid = `
version: t1
categories:
  threat:
    appliesTo: [input]
    en: { terms: [kill] }
`;

describe('normalizeForModeration', () => {
  it.each([
    ['ＫＩＬＬ', 'kill'],
    ['𝐊𝐈𝐋𝐋', 'kill'],
    ['k\u200Bi\u200Cl\u200Dl\uFEFF', 'kill'],
    ['so\u00ADft', 'soft'],
    ['a \t\n\u3000 b', 'a b'],
    ['１２３４', '1234'],
  ])('turns %p into %p', (input, expected) => {
    expect(normalizeForModeration(input)).toBe(expected);
  });
});

describe(loadModerationPolicy.name, () => {
  it('loads the default policy with its categories', () => {
    const policy = loadModerationPolicy(defaultPolicyFile);
    expect(policy.version).toBe('2026.11.1');
    expect(policy.categories).toEqual([
      'violence_threat',
      'self_harm_instructions',
      'sexual_minors',
      'hate',
      'weapons_instructions',
      'personal_data',
      'test_canary',
    ]);
  });

  it('accepts a minimal policy and a numeric version', () => {
    const policy = loadModerationPolicy(writePolicy(valid.replace('version: t1', 'version: 3')));
    expect(policy.version).toBe('3');
    expect(policy.match('I could kill', 'input', 'en')).toBe('threat');
  });

  it.each<[string, string, RegExp]>([
    ['a missing version', valid.replace('version: t1', ''), /version: /],
    ['a missing appliesTo', valid.replace('appliesTo: [input]', ''), /categories\.threat\.appliesTo: /],
    ['an unknown stage', valid.replace('[input]', '[input, both]'), /categories\.threat\.appliesTo\.1: /],
    ['a stage listed twice', valid.replace('[input]', '[input, input]'), /appliesTo: lists a stage twice/],
    ['a misspelt key', valid.replace('terms:', 'term:'), /categories\.threat\.en: .*term/],
    [
      'a term of separators only',
      valid.replace('[kill]', "['k', '- . -']"),
      /categories\.threat\.en\.terms\.0: a term needs/,
    ],
    [
      'a bad regular expression',
      valid.replace('{ terms: [kill] }', "{ patterns: ['ok', '(unclosed'] }"),
      /categories\.threat\.en\.patterns\.1: Invalid regular expression: .*Unterminated group/,
    ],
    [
      'a pattern that matches empty text',
      valid.replace('{ terms: [kill] }', "{ patterns: ['\\d*'] }"),
      /categories\.threat\.en\.patterns\.0: pattern matches empty text/,
    ],
    [
      'a category with nothing to match',
      valid.replace('{ terms: [kill] }', '{}'),
      /categories\.threat: needs at least one/,
    ],
    [
      'a category name that is not snake_case',
      valid.replace('threat:', 'Threat-Level:'),
      /categories\.Threat-Level: category names are snake_case/,
    ],
    ['no categories', 'version: t1\ncategories: {}\n', /categories: needs at least one category/],
    ['broken YAML', 'version: [t1\n', /not valid YAML/],
    ['a document that is not a mapping', '- just\n- a list\n', /\(root\): /],
  ])('refuses %s, naming the file and the field', (_label, source, problem) => {
    const file = writePolicy(source);
    let error: unknown;
    try {
      loadModerationPolicy(file);
    } catch (caught) {
      error = caught;
    }
    // A ConfigError, so the start-up (server.ts) prints the message alone and exits rather than dumping a stack.
    expect(error).toBeInstanceOf(ModerationPolicyError);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`Invalid moderation policy ${file}`);
    expect((error as Error).message).toMatch(problem);
  });

  it('refuses a file that does not exist, naming it', () => {
    const file = join(dir, 'missing.yaml');
    expect(() => loadModerationPolicy(file)).toThrow(`Invalid moderation policy ${file}: cannot read it (ENOENT`);
  });
});

describe('ModerationPolicy.matchAppended', () => {
  const policy = loadModerationPolicy(defaultPolicyFile);
  // Text that trips each kind of rule: en words (through separators, case, full width), zh
  // substrings, patterns with lookbehinds and lookaheads, and a canary with a hyphen.
  const blocked: [string, 'en' | 'zh'][] = [
    ['Well. I will kill you, friend.', 'en'],
    ['so: I  WILL\tkill\n you now', 'en'],
    ['watch out — i-w-i-l-l k.i.l.l y.o.u!', 'en'],
    ['ＩＷＩＬＬ ｋｉｌｌ ｙｏｕ', 'en'],
    ['the test word zorblax-canary here', 'en'],
    ['我会告诉你：我要杀了你。', 'zh'],
    ['card 4111 1111 1111 1111 ok', 'en'],
    ['id 110105199001011234 ok', 'zh'],
    ['ssn: 078-05-1120.', 'en'],
  ];
  // Text that must stay allowed, including near misses the boundaries decide.
  const allowed: [string, 'en' | 'zh'][] = [
    ['I will skill you up, and kill time.', 'en'],
    ['4111 1111 1111 111 is too short', 'en'],
    ['a long reply '.repeat(40), 'en'],
  ];

  // Feeds the text in pieces cut at `cuts`, as a stream does: the verdict of the first piece that
  // is blocked, checked as the provider loop checks it (the whole first piece, then windows).
  function streamed(text: string, cuts: number[], locale: 'en' | 'zh'): string | null {
    let before = '';
    let last = 0;
    for (const cut of [...cuts, text.length]) {
      const piece = text.slice(last, cut);
      last = cut;
      const verdict =
        before === '' ? policy.match(piece, 'output', locale) : policy.matchAppended(before, piece, 'output', locale);
      if (verdict !== null) return verdict;
      before += piece;
    }
    return null;
  }

  it.each(blocked)('catches %p split in two at every position', (text, locale) => {
    const whole = policy.match(text, 'output', locale);
    expect(whole).not.toBeNull();
    for (let at = 1; at < text.length; at++) expect([at, streamed(text, [at], locale)]).toEqual([at, whole]);
  });

  it.each(blocked)('catches %p streamed one character at a time and in random pieces', (text, locale) => {
    const whole = policy.match(text, 'output', locale);
    expect(streamed(text, [...Array(text.length).keys()].slice(1), locale)).toBe(whole);
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let round = 0; round < 50; round++) {
      const cuts = [...Array(text.length).keys()].slice(1).filter(() => random() < 0.3);
      expect(streamed(text, cuts, locale)).toBe(whole);
    }
  });

  it('catches a term whose start lies far back in a long reply, behind many separators', () => {
    const text = `${'harmless words. '.repeat(500)}i will kill ${'- '.repeat(300)}you`;
    expect(policy.match(text, 'output', 'en')).toBe('violence_threat');
    expect(streamed(text, [text.length - 1], 'en')).toBe('violence_threat');
  });

  it.each(allowed)('allows %p however it is cut', (text, locale) => {
    expect(policy.match(text, 'output', locale)).toBeNull();
    for (let at = 1; at < text.length; at++) expect(streamed(text, [at], locale)).toBeNull();
  });

  it('does not read the start of a long reply again for each piece', () => {
    // A term at the very start would be found again if the whole text were read: the window
    // leaves it out (it was allowed when it arrived, as `before` promises).
    const before = `zorblax-canary ${'filler text '.repeat(200)}`;
    expect(policy.match(before, 'output', 'en')).toBe('test_canary');
    expect(policy.matchAppended(before, 'more', 'output', 'en')).toBeNull();
  });
});

describe('maxMatchLength', () => {
  it.each<[string, { match: number; lookbehind: number } | null]>([
    ['abc', { match: 3, lookbehind: 0 }],
    ['(?<!\\d)\\d{3}-\\d{2}-\\d{4}(?!\\d)', { match: 22, lookbehind: 2 }],
    ['a|bcd|[xy]{2,3}', { match: 6, lookbehind: 0 }],
    ['(?:ab)?c', { match: 3, lookbehind: 0 }],
    ['a.*b', null],
    ['a+', null],
    ['(a)\\1', null],
    ['x{2,}', null],
  ])('bounds %p', (source, expected) => {
    expect(maxMatchLength(source)).toEqual(expected);
  });
});
