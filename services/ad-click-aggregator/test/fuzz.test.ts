import { expectFuzzClean, test } from '@sdlab/testkit';
import { describe } from 'vitest';
import { startApi } from './support/app.ts';
import { ADMIN } from './support/auth.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({
    pg,
    redis,
    kafka,
  }) => {
    const api = await startApi({ pg, redis, kafka }, 1);
    const { app } = api;
    try {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      await expectFuzzClean({ baseUrl, document: app.swagger(), headers: ADMIN });
    } finally {
      await app.reconcileQueue.obliterate({ force: true }).catch(() => undefined);
      await api.close();
    }
  });
});
