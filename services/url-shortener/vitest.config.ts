import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('url-shortener', { infra: true, test: { testTimeout: 120_000 } });
