import { describeFuzz, expectFuzzClean } from '@sdlab/testkit';
import { startApi } from './support/app.ts';
import { ADMIN } from './support/auth.ts';

describeFuzz(async ({ pg, redis, kafka }) => {
  const api = await startApi({ pg, redis, kafka }, 1);
  try {
    await expectFuzzClean({ app: api.app, headers: ADMIN });
  } finally {
    await api.app.reconcileQueue.obliterate({ force: true }).catch(() => undefined);
    await api.close();
  }
});
