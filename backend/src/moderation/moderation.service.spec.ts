import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Locale } from '@parley/api-types';
import { parse } from 'yaml';
import { loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { repoPaths } from '../config/repo-paths.js';
import { ModerationModule } from './moderation.module.js';
import { ModerationService, type ModerationStage, type ModerationVerdict } from './moderation.service.js';

const defaultPolicyFile = join(repoPaths.root, 'backend', 'moderation', 'policy.yaml');

// A small policy of its own, so the matching mechanics are tested apart from the starter lists.
const fixturePolicy = `
version: fixture-1
categories:
  threat:
    appliesTo: [input]
    en: { terms: [kill, i will hurt you] }
    zh: { terms: [杀了你] }
  leak:
    appliesTo: [output]
    any:
      terms: [secret sauce]
      patterns: ['(?<!\\d)\\d{4}-\\d{4}(?!\\d)']
  insult:
    appliesTo: [input]
    zh: { terms: [sb] }
  canary:
    appliesTo: [input, output]
    any: { terms: [zorblax-canary] }
`;

function blocked(category: string): ModerationVerdict {
  return { allowed: false, category, source: 'policy' };
}
const allowed: ModerationVerdict = { allowed: true, category: null, source: 'policy' };

describe(ModerationService.name, () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-moderation-'));
  const fixtureFile = join(dir, 'fixture.yaml');
  writeFileSync(fixtureFile, fixturePolicy);
  const fixture = ModerationService.fromFile(fixtureFile);

  describe('check', () => {
    it('blocks a term at the stages its category applies to, and only there', () => {
      expect(fixture.check('I could kill him', 'input', 'en')).toEqual(blocked('threat'));
      expect(fixture.check('I could kill him', 'output', 'en')).toEqual(allowed);
      expect(fixture.check('the secret sauce is', 'output', 'en')).toEqual(blocked('leak'));
      expect(fixture.check('the secret sauce is', 'input', 'en')).toEqual(allowed);
    });

    it.each([
      'KILL',
      'KiLl',
      'ｋｉｌｌ',
      '𝐤𝐢𝐥𝐥',
      'k.i.l.l',
      'k i l l',
      'k-i-l-l',
      'k_i_l_l',
      'k . i . l . l',
      'k*i*l*l',
      'k\u200Bi\u200Cl\u200Dl',
      'k\u00ADi\u2060l\uFEFFl',
      'k\u0334i\u0334l\u0334l\u0334',
      'Ｋ・Ｉ・Ｌ・Ｌ',
      'I will\u00A0kill.',
    ])('sees through %p', (text) => {
      expect(fixture.check(text, 'input', 'en')).toEqual(blocked('threat'));
    });

    it.each(['skill', 'skills', 'killer', 'roadkill', 'overkill', 'Kilimanjaro', 'kiln', 'kilo'])(
      'allows %p, which only contains the letters of a term',
      (text) => {
        expect(fixture.check(`what a ${text} we saw`, 'input', 'en')).toEqual(allowed);
      },
    );

    it('matches a phrase across any whitespace and case, but only as whole words', () => {
      expect(fixture.check('I  WILL\n\thurt   you!', 'input', 'en')).toEqual(blocked('threat'));
      expect(fixture.check('I will hurt your pride', 'input', 'en')).toEqual(allowed);
      expect(fixture.check('Hi will hurt you', 'input', 'en')).toEqual(allowed);
    });

    it('matches zh terms as substrings, through separators and full-width spaces', () => {
      expect(fixture.check('我要杀了你！', 'input', 'zh')).toEqual(blocked('threat'));
      expect(fixture.check('杀 了\u3000你', 'input', 'zh')).toEqual(blocked('threat'));
      expect(fixture.check('杀.了\u200B你', 'input', 'zh')).toEqual(blocked('threat'));
      expect(fixture.check('杀了他', 'input', 'zh')).toEqual(allowed);
      // Even a Latin term in the zh list: Chinese users run letters together ("sbsb").
      expect(fixture.check('你真是sbsb', 'input', 'zh')).toEqual(blocked('insult'));
    });

    it("applies the `any` list and the given locale's list, not another locale's", () => {
      expect(fixture.check('kill', 'input', 'zh')).toEqual(allowed);
      expect(fixture.check('杀了你', 'input', 'en')).toEqual(allowed);
      // A Chinese user writing an English `any` term, even with no space around it.
      expect(fixture.check('我说zorblax-canary了', 'input', 'zh')).toEqual(blocked('canary'));
      expect(fixture.check('secret sauce', 'output', 'zh')).toEqual(blocked('leak'));
    });

    it('matches patterns on the normalised text', () => {
      expect(fixture.check('call 1234-5678 now', 'output', 'en')).toEqual(blocked('leak'));
      expect(fixture.check('call １２３４－５６７８ now', 'output', 'zh')).toEqual(blocked('leak'));
      expect(fixture.check('call 1234-5678 now', 'input', 'en')).toEqual(allowed);
      expect(fixture.check('call 12345-5678 now', 'output', 'en')).toEqual(allowed);
    });

    it('blocks a growing streamed text from the delta that completes a term', () => {
      const text = 'Well, I will hurt you, said the villain.';
      const firstBlocked = [...text].findIndex((_, i) => !fixture.check(text.slice(0, i + 1), 'input', 'en').allowed);
      expect(text.slice(0, firstBlocked + 1)).toBe('Well, I will hurt you');
    });

    it('returns a verdict that carries no matched or user text', () => {
      const text = 'please K.I.L.L the secret sauce 1234-5678 zorblax-canary';
      const verdicts = (['input', 'output'] as const).map((stage) => fixture.check(text, stage, 'en'));
      for (const verdict of verdicts) {
        expect(Object.keys(verdict).sort()).toEqual(['allowed', 'category', 'source']);
        const serialised = JSON.stringify(verdict).toLowerCase();
        for (const fragment of ['k.i.l.l', 'kill', 'secret', 'sauce', '1234', 'zorblax', 'please']) {
          expect(serialised).not.toContain(fragment);
        }
      }
      expect(verdicts.map((v) => v.allowed)).toEqual([false, false]);
    });

    it('allows empty text', () => {
      expect(fixture.check('', 'input', 'en')).toEqual(allowed);
      expect(fixture.check('', 'output', 'zh')).toEqual(allowed);
    });
  });

  describe('fromProvider', () => {
    it('records a provider block with its category', () => {
      expect(fixture.fromProvider('HARM_CATEGORY_DANGEROUS_CONTENT')).toEqual({
        allowed: false,
        category: 'HARM_CATEGORY_DANGEROUS_CONTENT',
        source: 'provider',
      });
      expect(fixture.fromProvider('  ')).toEqual({ allowed: false, category: 'unspecified', source: 'provider' });
    });
  });

  describe('with the default policy', () => {
    const service = ModerationService.fromFile(defaultPolicyFile);
    const document = parse(readFileSync(defaultPolicyFile, 'utf8')) as {
      version: string;
      categories: Record<
        string,
        { appliesTo: ModerationStage[] } & Partial<Record<Locale | 'any', { terms?: string[] }>>
      >;
    };
    // Every term in the file, at both stages, in each locale whose list carries it.
    const cases = Object.entries(document.categories).flatMap(([category, rules]) =>
      (['en', 'zh', 'any'] as const).flatMap((list) =>
        (rules[list]?.terms ?? []).flatMap((term) =>
          (list === 'any' ? (['en', 'zh'] as const) : [list]).flatMap((locale) =>
            (['input', 'output'] as const).map((stage) => ({
              category,
              term,
              locale,
              stage,
              applies: rules.appliesTo.includes(stage),
            })),
          ),
        ),
      ),
    );

    it('has terms to test in every category but personal_data', () => {
      const withTerms = new Set(cases.map((c) => c.category));
      expect([...withTerms].sort()).toEqual(
        Object.keys(document.categories)
          .filter((c) => c !== 'personal_data')
          .sort(),
      );
    });

    it.each(cases)('$category: $term ($locale, $stage) is blocked only where it applies', (c) => {
      const text = c.locale === 'zh' ? `他问：${c.term}？` : `So, ${c.term.toUpperCase()}, right?`;
      const verdict = service.check(text, c.stage, c.locale);
      if (c.applies) expect(verdict).toEqual(blocked(c.category));
      else expect(verdict.category).not.toBe(c.category);
    });

    it.each<[Locale]>([['en'], ['zh']])('blocks the canary at both stages in %s', (locale) => {
      for (const stage of ['input', 'output'] as const) {
        expect(service.check('testing zorblax-canary here', stage, locale)).toEqual(blocked('test_canary'));
        expect(service.check('ZORBLAX CANARY', stage, locale)).toEqual(blocked('test_canary'));
        expect(service.check('zorblax', stage, locale)).toEqual(allowed);
      }
    });

    it.each([
      'Card: 4111 1111 1111 1111.',
      'card 4111-1111-1111-1111',
      '卡号４１１１１１１１１１１１１１１１',
      'amex 3782 822463 10005',
      'SSN 123-45-6789',
      '身份证号 11010519491231002X',
    ])('blocks personal data %p in output only', (text) => {
      expect(service.check(text, 'output', 'en')).toEqual(blocked('personal_data'));
      expect(service.check(text, 'output', 'zh')).toEqual(blocked('personal_data'));
      expect(service.check(text, 'input', 'en')).toEqual(allowed);
    });

    it.each<[string, Locale]>([
      ['What a skill you have, and the skills to pay the bills!', 'en'],
      ['The knight swore: I will protect you, whatever it takes.', 'en'],
      ['We watched Kill Bill and then a documentary about bombers.', 'en'],
      ['My order 1234 5678 ships on 2026-11-21; call 555-1234.', 'en'],
      ['The dragon roared, "I shall slay you, knight!"', 'en'],
      ['你好，今天天气很好，我们去公园吧。', 'zh'],
      ['印度支那的历史很复杂。', 'zh'],
      ['他在书里读到了关于炸弹的历史。', 'zh'],
    ])('allows everyday text %p', (text, locale) => {
      expect(service.check(text, 'input', locale)).toEqual(allowed);
      expect(service.check(text, 'output', locale)).toEqual(allowed);
    });

    it("reports the file's version", () => {
      expect(service.policyVersion).toBe(document.version);
    });
  });

  describe(ModerationModule.name, () => {
    it('provides the service built from the configured policy file', async () => {
      const config = loadConfig({ DATA_DIR: dir });
      const moduleRef = await Test.createTestingModule({
        imports: [
          ConfigModule.forRoot(config.with({ trust: { ...config.trust, moderationPolicyFile: fixtureFile } })),
          ModerationModule,
        ],
      }).compile();
      const service = moduleRef.get(ModerationService);
      expect(service.policyVersion).toBe('fixture-1');
      expect(service.check('zorblax-canary', 'output', 'en')).toEqual(blocked('canary'));
      await moduleRef.close();
    });
  });

  describe('onModuleInit', () => {
    it('logs the policy in force, by version and categories, under Moderation', () => {
      const logged: Array<{ context: unknown; message: unknown }> = [];
      const spy = jest.spyOn(Logger.prototype, 'log').mockImplementation(function (this: Logger, message: unknown) {
        logged.push({ context: (this as unknown as { context?: string }).context, message });
      });
      try {
        fixture.onModuleInit();
      } finally {
        spy.mockRestore();
      }
      expect(logged).toEqual([
        {
          context: 'Moderation',
          message: {
            event: 'moderation_policy',
            version: 'fixture-1',
            categories: ['threat', 'leak', 'insult', 'canary'],
          },
        },
      ]);
    });
  });
});
