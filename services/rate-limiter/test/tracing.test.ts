import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { postCheck } from './support/api.ts';
import { limiterEnv } from './support/env.ts';
import { startInstance, untilReady } from './support/processes.ts';
import { writeRules } from './support/rules-file.ts';

// The story a check tells in Jaeger: the request, its handler with the decision's attributes, and
// the script call to Redis inside it. Real SDK and instrumentations; only the exporter is stdout.
describe('tracing', () => {
  test('a check is one trace: request, handler with the decision, and the Redis script under it', async ({
    redis,
  }) => {
    const file = writeRules([{ name: 'free', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]);
    const instance = await startInstance(limiterEnv(redis, file.path, { RULES_WATCH: 'false' }), {
      spanLog: true,
    });
    try {
      await untilReady(instance);
      expect((await postCheck(`${instance.url}/v1/checks`, { key: 'traced', rule: 'free' })).status).toBe(
        200,
      );
    } finally {
      await instance.stop();
      file.remove();
    }
    const spans = instance.spans();
    const request = spans.find((s) => s.span === 'POST /v1/checks');
    expect(request, spans.map((s) => s.span).join(', ')).toBeDefined();
    const inTrace = spans.filter((s) => s.traceId === request!.traceId);
    const decided = inTrace.find((s) => s.attributes['sdlab.ratelimit.rule'] === 'free');
    expect(decided?.attributes).toMatchObject({
      'sdlab.ratelimit.allowed': true,
      'sdlab.ratelimit.source': 'redis',
      'sdlab.ratelimit.remaining': 4,
    });
    const script = inTrace.find((s) => s.span === 'evalsha' || s.span === 'eval');
    expect(script, inTrace.map((s) => s.span).join(', ')).toBeDefined();
    // The Redis call hangs under the span that made the decision.
    expect(script!.parentSpanId).toBe(decided!.spanId);
  });
});
