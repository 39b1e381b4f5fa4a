import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('chat-gateway', { infra: true });
