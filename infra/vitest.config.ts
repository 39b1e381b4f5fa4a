import { sdlabProject } from '../vitest.shared.ts';

export default sdlabProject('infra', { infra: true, test: { testTimeout: 120_000 } });
