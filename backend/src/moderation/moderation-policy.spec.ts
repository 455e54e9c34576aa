import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/app-config.js';
import { repoPaths } from '../config/repo-paths.js';
import { ModerationPolicyError, loadModerationPolicy, normalizeForModeration } from './moderation-policy.js';

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
