import { uniqueId } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postCheck } from './support/api.ts';
import { type Cluster, startCluster } from './support/cluster.ts';

// Guarantee, with the settings the service ships with: three instances on one healthy Redis, no
// REDIS_COMMAND_TIMEOUT_MS or breaker override, rules with the default failure policy (local-fallback)
// and mode (exact). A burst of 1,000 concurrent checks on one key with a limit of 100 per minute
// admits exactly 100, whatever the burst does to each instance's event loop. (A burst once made
// replies wait behind queued requests past the 200 ms timeout: the breaker opened on every
// instance and the local fallback admitted again what Redis had already decided, 200-400 in all.)

const INSTANCES = 3;

const algorithms = {
  // Capacity 100; one token back per 10,000 s, so none refills while the burst runs (100/min would
  // legitimately add one or two during it).
  'token-bucket': { algorithm: 'token-bucket', capacity: 100, refillPerSec: 0.0001 },
  'sliding-window-log': { algorithm: 'sliding-window-log', limit: 100, windowMs: 60_000 },
  'sliding-window-counter': { algorithm: 'sliding-window-counter', limit: 100, windowMs: 60_000 },
  'fixed-window': { algorithm: 'fixed-window', limit: 100, windowMs: 60_000 },
} as const;

// No failurePolicy, no mode: the defaults are what is under test.
const rules = Object.entries(algorithms).map(([name, spec]) => ({ name, ...spec }));

describe('exact mode under the shipped defaults', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(INSTANCES, rules);
  });
  afterAll(() => cluster.close());

  for (const [name, spec] of Object.entries(algorithms)) {
    it(`${name}: 1,000 concurrent checks on one key admit exactly 100`, async () => {
      const key = `burst-${uniqueId()}`;
      const responses = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          postCheck(`${cluster.instances[i % INSTANCES]!.url}/v1/checks`, { key, rule: name, cost: 1 }),
        ),
      );
      expect(responses.every((r) => r.status === 200)).toBe(true);
      const admitted = responses.filter((r) => r.json.allowed);
      const bySource = Object.groupBy(admitted, (r) => r.json.source);
      console.info(
        `[measured] ${name} under defaults: ${admitted.length} of 1000 admitted (limit 100) by source ${JSON.stringify(
          Object.fromEntries(Object.entries(bySource).map(([s, rs]) => [s, rs?.length])),
        )}`,
      );
      expect(admitted).toHaveLength(100);
      // Every admission is Redis's: none was decided a second time from memory.
      expect(admitted.filter((r) => r.json.source !== 'redis')).toHaveLength(0);
      // And Redis holds the same count the clients were told.
      if (spec.algorithm === 'sliding-window-log') {
        expect(await cluster.redis.zcard(`${cluster.prefix}swl:{${name}:${key}}`)).toBe(100);
      }
    });
  }
});
