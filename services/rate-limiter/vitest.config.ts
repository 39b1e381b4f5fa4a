import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('rate-limiter', { infra: true });
