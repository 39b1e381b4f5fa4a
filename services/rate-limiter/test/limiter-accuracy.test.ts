import { uniqueId } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postCheck } from './support/api.ts';
import { type Cluster, startCluster } from './support/cluster.ts';

// Guarantee: across three instances (real processes, own ports, one Redis), 1,000 concurrent
// requests on one key with a limit of 100 admit exactly 100 in exact mode, for every algorithm;
// the local-cache (hot-key) mode admits at least 100 and at most 100 + (3 - 1) x share.

const DAY = 86_400_000; // windows far longer than a run, so a round never spans two of them
const SHARE = 10;
const INSTANCES = 3;
const BOUND = 100 + (INSTANCES - 1) * SHARE;

const algorithms = {
  // One token back per 10,000 s: none refills while a round runs.
  'token-bucket': { algorithm: 'token-bucket', capacity: 100, refillPerSec: 0.0001 },
  'sliding-window-log': { algorithm: 'sliding-window-log', limit: 100, windowMs: DAY },
  'sliding-window-counter': { algorithm: 'sliding-window-counter', limit: 100, windowMs: DAY },
  'fixed-window': { algorithm: 'fixed-window', limit: 100, windowMs: DAY },
} as const;

const rules = Object.entries(algorithms).flatMap(([name, spec]) => [
  { name: `exact-${name}`, ...spec, failurePolicy: 'fail-closed' },
  {
    name: `cached-${name}`,
    ...spec,
    failurePolicy: 'fail-closed',
    mode: 'local-cache',
    localCache: { share: SHARE, syncMs: 1000 },
  },
]);

describe('accuracy across three instances', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(INSTANCES, rules, {
      // The Redis timeout is wall-clock time; with every suite sharing two cores a busy event loop
      // can outlast 200 ms, and fail-closed would then deny what Redis admitted. That is the
      // policy working, not the accuracy under test, so the timeout is out of the way here.
      REDIS_COMMAND_TIMEOUT_MS: '5000',
      BREAKER_FAILURES: '1000',
    });
  });
  afterAll(() => cluster.close());

  /** 1,000 concurrent checks of one fresh key, spread over the instances; returns how many passed. */
  async function round(rule: string): Promise<number> {
    const key = `round-${uniqueId()}`;
    const responses = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        postCheck(`${cluster.instances[i % INSTANCES]!.url}/v1/checks`, { key, rule, cost: 1 }),
      ),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    // fail-closed: a Redis hiccup would show up as denials with this source, never as admissions.
    expect(responses.filter((r) => r.json.source === 'fail-closed')).toHaveLength(0);
    return responses.filter((r) => r.json.allowed).length;
  }

  for (const name of Object.keys(algorithms)) {
    it(`${name}, exact mode: exactly 100 of 1,000 admitted`, async () => {
      const admitted = await round(`exact-${name}`);
      console.info(`[measured] exact ${name}: ${admitted} of 1000 admitted (limit 100)`);
      expect(admitted).toBe(100);
    });

    it(`${name}, local-cache mode (share ${SHARE}): between 100 and ${BOUND} admitted`, async () => {
      const admitted = await round(`cached-${name}`);
      console.info(
        `[measured] local-cache ${name}: ${admitted} of 1000 admitted (limit 100, bound ${BOUND}, over-admission ${admitted - 100})`,
      );
      expect(admitted).toBeGreaterThanOrEqual(100);
      expect(admitted).toBeLessThanOrEqual(BOUND);
    });
  }
});
