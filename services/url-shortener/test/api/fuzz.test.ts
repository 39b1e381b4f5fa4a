import { expectFuzzClean, test } from '@sdlab/testkit';
import { describe } from 'vitest';
import { buildApp } from '../../src/main.ts';
import { shortenerEnv } from '../support/env.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { app } = await buildApp(shortenerEnv({ pg, redis, brokers: kafka.brokers }));
    try {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      await expectFuzzClean({ baseUrl, document: app.swagger() });
    } finally {
      await app.close();
    }
  });
});
