import { sdlabProject } from '../vitest.shared.ts';

// One file at a time: the stack and fault tests start real service processes and stop servers,
// and two of them at once on a 2-core machine would measure each other, not the services.
export default sdlabProject('infra', {
  infra: true,
  test: { testTimeout: 120_000, fileParallelism: false },
});
