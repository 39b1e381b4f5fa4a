import { describeFuzz, expectFuzzClean } from '@sdlab/testkit';
import { tokenFor } from './support/api.ts';
import { startGateway } from './support/app.ts';
import { gatewayEnv } from './support/env.ts';

describeFuzz(async ({ pg, redis }) => {
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
