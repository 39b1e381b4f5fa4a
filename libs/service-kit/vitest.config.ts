import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('service-kit', { test: { testTimeout: 30_000 } });
