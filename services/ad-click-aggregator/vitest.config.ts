import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('ad-click-aggregator', { infra: true });
