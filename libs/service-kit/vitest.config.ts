import { sdlabProject } from '../../vitest.shared.ts';

// infra: the migration runner's tests need a real Postgres (the testkit's `pg` fixture).
export default sdlabProject('service-kit', { infra: true, test: { testTimeout: 30_000 } });
