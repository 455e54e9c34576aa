import solid from 'vite-plugin-solid';
import { precompress } from './precompress';
import { defineConfig } from 'vitest/config';

// The API server (backend workspace) in development; the built app is served by it in production.
const backend = 'http://127.0.0.1:3000';

// Keys starting with ^ are regular expressions, so /api matches /api/… but not /apix.
const proxy = {
  '^/api/v1/realtime$': { target: backend, ws: true },
  '^/(api|health|docs)(/|$)': backend,
  '^/metrics$': backend,
  '^/openapi\\.(json|yaml)$': backend,
};

export default defineConfig({
  plugins: [solid(), precompress('dist')],
  server: { proxy },
  preview: { proxy },
  build: { outDir: 'dist', emptyOutDir: true },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['./src/test-setup.ts'],
  },
});
