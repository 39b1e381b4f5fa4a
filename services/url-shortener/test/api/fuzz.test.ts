import { describeFuzz, expectFuzzClean } from '@sdlab/testkit';
import { buildApp } from '../../src/main.ts';
import { shortenerEnv } from '../support/env.ts';

describeFuzz(async ({ pg, redis, kafka }) => {
  const { app } = await buildApp(shortenerEnv({ pg, redis, brokers: kafka.brokers }));
  try {
    await expectFuzzClean({ app });
  } finally {
    await app.close();
  }
});
