import type { PgFixture } from '@sdlab/testkit';

/** The provider's settings for one test: its own database, no webhook target, quiet logs. */
export function providerEnv(
  pg: Pick<PgFixture, 'url'>,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return { DATABASE_URL: pg.url, WEBHOOK_URL: '', LOG_LEVEL: 'silent', ...overrides };
}
