import { expectFuzzClean, test } from '@sdlab/testkit';
import { describe } from 'vitest';
import { withBooking } from './support/app.ts';
import { admin } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';

// The fuzz pass of libs/testkit over booking's OpenAPI document (added with issue 19's fuzz pass;
// the booking routes themselves belong to their own branch). With admin credentials, so the cases
// reach validation and the handlers, not only the auth check.
describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      await expectFuzzClean({
        baseUrl,
        document: app.swagger(),
        headers: { ...admin, 'idempotency-key': 'fuzz-key-0001' },
      });
    });
  });
});
