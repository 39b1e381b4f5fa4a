import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@sdlab/source'] },
  test: {
    name: 'service-kit',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
