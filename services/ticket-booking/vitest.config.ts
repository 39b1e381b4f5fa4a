import { sdlabProject } from '../../vitest.shared.ts';

export default sdlabProject('ticket-booking', { infra: true });
