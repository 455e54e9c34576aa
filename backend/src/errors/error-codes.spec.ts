import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadContractDocument, resolveRef } from '../contract/contract-document.js';
import { repoPaths } from '../config/repo-paths.js';
import { ERROR_SPECS } from './error-codes.js';

describe('ERROR_SPECS', () => {
  const document = loadContractDocument();
  const schema = resolveRef<{ anyOf: Array<{ enum: string[] }> }>(document, { $ref: '#/components/schemas/ErrorCode' });
  // The codes of 1.0 and those added since, as two enums (see the contract).
  const codes = schema.anyOf.flatMap((branch) => branch.enum);

  it('maps exactly the error codes of the contract', () => {
    expect(Object.keys(ERROR_SPECS).sort()).toEqual([...codes].sort());
  });

  it.each(['en', 'zh'])('has a %s message for every code', (locale) => {
    const messages = JSON.parse(readFileSync(join(repoPaths.i18n, locale, 'errors.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(Object.keys(messages).sort()).toEqual(Object.keys(ERROR_SPECS).sort());
    for (const text of Object.values(messages)) expect(text.trim().length).toBeGreaterThan(0);
  });

  it('lists, for every operation, the statuses its codes can produce', () => {
    // Every status an error code maps to is documented somewhere in the contract's responses.
    const statuses = new Set<string>();
    for (const item of Object.values(document.paths)) {
      for (const op of Object.values(item) as Array<{ responses?: Record<string, unknown> }>) {
        for (const status of Object.keys(op.responses ?? {})) statuses.add(status);
      }
    }
    for (const spec of Object.values(ERROR_SPECS)) expect(statuses).toContain(String(spec.status));
  });
});
