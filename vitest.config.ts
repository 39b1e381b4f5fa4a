import { defineConfig } from 'vitest/config';

// One run over every package; each package's own vitest.config.ts names it and sets its timeouts.
export default defineConfig({
  test: {
    projects: ['libs/*', 'services/*', 'infra', 'loadtests'],
  },
});
