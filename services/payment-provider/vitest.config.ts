import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('payment-provider', { infra: true });
