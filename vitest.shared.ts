import { defineProject, type ViteUserConfig } from 'vitest/config';

// Workspace libraries resolve to their TypeScript sources through the `@sdlab/source` export
// condition, in tests as in `pnpm start`; vitest resolves test code in its SSR environment.
const sourceCondition = ['@sdlab/source', 'module', 'node', 'development|production'];

/** A package's vitest project: its name, and whether its tests need the real servers. */
export function sdlabProject(name: string, options: { infra?: boolean; test?: ViteUserConfig['test'] } = {}) {
  return defineProject({
    resolve: { conditions: sourceCondition },
    ssr: { resolve: { conditions: sourceCondition } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      ...(options.infra
        ? { globalSetup: [new URL('./libs/testkit/src/global-setup.ts', import.meta.url).pathname] }
        : {}),
      testTimeout: 60_000,
      hookTimeout: 180_000,
      ...options.test,
    },
  });
}
