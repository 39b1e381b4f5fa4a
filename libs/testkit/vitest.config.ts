import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('testkit', { infra: true });
