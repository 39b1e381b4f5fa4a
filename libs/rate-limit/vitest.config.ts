import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('rate-limit', { infra: true });
