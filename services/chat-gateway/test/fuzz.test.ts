import { expectFuzzClean, test } from '@sdlab/testkit';
import { describe } from 'vitest';
import { tokenFor } from './support/api.ts';
import { startGateway } from './support/app.ts';
import { gatewayEnv } from './support/env.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({
    pg,
    redis,
  }) => {
    const gateway = await startGateway(gatewayEnv(pg, redis));
    try {
      const token = await tokenFor(gateway.url, 'fuzzer');
      await expectFuzzClean({
        baseUrl: gateway.url,
        document: gateway.app.swagger(),
        headers: { authorization: `Bearer ${token}` },
      });
    } finally {
      await gateway.close();
    }
  });
});
