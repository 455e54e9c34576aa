import { defineConfig } from '@hey-api/openapi-ts';

// The fetch client, the contract's types, its zod schemas and the SDK. The SDK checks every
// response body (and every stream event) against the zod schemas, so a server that drifts from
// the contract fails here. Output is formatted with the repository's Prettier settings.
export default defineConfig({
  input: '../../contracts/generate-ai-response.yaml',
  output: { path: './generated/heyapi', module: { extension: '.js' }, postProcess: ['prettier'] },
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    'zod',
    { name: '@hey-api/sdk', validator: { response: 'zod' } },
  ],
});
