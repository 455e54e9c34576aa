import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadContractDocument, resolveRef } from '../contract/contract-document.js';
import { repoPaths } from '../config/repo-paths.js';
import { ERROR_SPECS } from './error-codes.js';

describe('ERROR_SPECS', () => {
  const document = loadContractDocument();
  const schema = resolveRef<{ anyOf: Array<{ enum: string[] }>; description: string }>(document, {
    $ref: '#/components/schemas/ErrorCode',
  });
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

  it("maps every code to the status and retryability of the contract's error catalogue", () => {
    // The catalogue is the table in ErrorCode's description: | `code` | HTTP | retryable | meaning |.
    const catalogue = new Map<string, { status: number; retryable: boolean }>();
    for (const [, code, status, retryable] of schema.description.matchAll(
      /^\| `([a-z_]+)` \| (\d{3}) \| (yes|no) \|/gm,
    )) {
      catalogue.set(code!, { status: Number(status), retryable: retryable === 'yes' });
    }
    expect([...catalogue.keys()].sort()).toEqual([...codes].sort());
    for (const [code, spec] of Object.entries(ERROR_SPECS)) {
      expect({ code, ...spec }).toEqual({ code, ...catalogue.get(code) });
    }
  });

  it("agrees with every Problem example of the contract on the code's status", () => {
    const examples = Object.values(document.components.examples ?? {}) as Array<{ value?: unknown }>;
    const problems = examples
      .map((example) => example.value as { code?: string; status?: number; retryable?: boolean } | undefined)
      .filter(
        (value): value is { code: string; status: number; retryable: boolean } => typeof value?.code === 'string',
      );
    expect(problems.length).toBeGreaterThan(10);
    for (const problem of problems) {
      const spec = ERROR_SPECS[problem.code as keyof typeof ERROR_SPECS];
      expect({ code: problem.code, status: problem.status, retryable: problem.retryable }).toEqual({
        code: problem.code,
        status: spec.status,
        retryable: spec.retryable,
      });
    }
  });

  it('lists, for every operation, the statuses its codes can produce', () => {
    // Each operation documents the status of every code its responses name (`code_name` in a
    // response's description names the code that status is for).
    const statuses = new Set<string>();
    for (const item of Object.values(document.paths)) {
      for (const op of Object.values(item) as Array<{ responses?: Record<string, unknown> }>) {
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          statuses.add(status);
          const description = (response as { description?: string }).description ?? '';
          for (const [, code] of description.matchAll(/`([a-z_]+)`/g)) {
            const spec = ERROR_SPECS[code as keyof typeof ERROR_SPECS];
            if (spec) expect({ code, status: String(spec.status) }).toEqual({ code, status });
          }
        }
      }
    }
    // Except the codes the catalogue says are sent before an operation is known (a request that
    // never arrived whole): those belong to no operation.
    const beforeAnyOperation = new Set(
      [...schema.description.matchAll(/^\| `([a-z_]+)` \|.*before an operation is known/gm)].map((m) => m[1]),
    );
    expect([...beforeAnyOperation]).toEqual(['request_timeout']);
    for (const [code, spec] of Object.entries(ERROR_SPECS)) {
      if (!beforeAnyOperation.has(code)) expect(statuses).toContain(String(spec.status));
    }
  });
});
