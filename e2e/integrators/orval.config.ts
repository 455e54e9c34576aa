import { defineConfig } from 'orval';

const contract = '../../contracts/generate-ai-response.yaml';

// The axios client (header parameters as typed arguments: `headers: true`) and the contract's
// schemas as zod, which type what axios cannot: stream events and the bodies of errors. Imports
// carry `.js` (read from the tsconfig, nodenext); output is formatted with the repository's
// Prettier settings.
export default defineConfig({
  axios: {
    input: { target: contract },
    output: {
      target: './generated/orval/api.ts',
      client: 'axios',
      mode: 'single',
      headers: true,
      tsconfig: './tsconfig.json',
      formatter: 'prettier',
    },
  },
  zod: {
    input: { target: contract },
    output: {
      target: './generated/orval/endpoints.zod.ts',
      client: 'zod',
      mode: 'single',
      tsconfig: './tsconfig.json',
      formatter: 'prettier',
      schemas: { path: './generated/orval/schemas.zod.ts', type: 'zod', mode: 'single' },
      override: { zod: { generateReusableSchemas: true } },
    },
  },
});
