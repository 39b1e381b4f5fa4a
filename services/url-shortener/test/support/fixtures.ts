import { test as base } from '@sdlab/testkit';
import { Apps } from './app.ts';
import { shortenerEnv } from './env.ts';

/**
 * The testkit's fixtures plus `env` (settings for this test's database, key prefix and a fresh
 * topic/group) and `apps` (API apps and workers closed after the test, before the database is
 * dropped and the keys deleted, because it depends on those fixtures).
 */
export const test = base.extend<{ env: NodeJS.ProcessEnv; apps: Apps }>({
  env: async ({ pg, redis, kafka }, use) => {
    await use(shortenerEnv({ pg, redis, brokers: kafka.brokers }));
  },
  apps: async ({ pg, redis, kafka }, use) => {
    void pg;
    void redis;
    const apps = new Apps();
    try {
      await use(apps);
    } finally {
      await apps.close(kafka.admin);
    }
  },
});
