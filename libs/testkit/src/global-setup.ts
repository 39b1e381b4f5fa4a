import type { TestProject } from 'vitest/node';
import { resolveEndpoints } from './endpoints.ts';
import type {} from './fixtures.ts'; // types the `sdlabEndpoints` key

/** Once per test run: find (or start) the real servers and hand their endpoints to every test file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { endpoints, stop } = await resolveEndpoints();
  project.provide('sdlabEndpoints', endpoints);
  return async () => {
    await stop?.();
  };
}
