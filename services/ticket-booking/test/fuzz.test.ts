import { describeFuzz, expectFuzzClean } from '@sdlab/testkit';
import { withBooking } from './support/app.ts';
import { admin } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';

// The fuzz pass of libs/testkit over booking's OpenAPI document, with admin credentials, so the
// cases reach validation and the handlers, not only the auth check.
describeFuzz(async ({ pg, redis, es }) => {
  await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
    await expectFuzzClean({ app, headers: { ...admin, 'idempotency-key': 'fuzz-key-0001' } });
  });
});
