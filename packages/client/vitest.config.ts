import { defineConfig } from 'vitest/config';

// The SDK runs in browsers and in Node: its tests run in Node, with the platform's own fetch types.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
