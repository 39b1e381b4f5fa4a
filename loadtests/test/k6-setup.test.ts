import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveEndpoints } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { achievedRate, measuredRequests, runK6 } from '../src/k6.ts';

// The runner measures from the end of a scenario's setup(): setup's requests (link creates,
// 50,000-seat events) are left out of the counts and of the CPU account. Real k6, a real server.
describe('k6 run measured from the end of setup()', () => {
  let stop: (() => Promise<void>) | undefined;
  let k6: string;
  const server = createServer((_req, res) => {
    res.end('ok');
  });
  let dir: string;

  beforeAll(async () => {
    const resolved = await resolveEndpoints();
    stop = resolved.stop;
    if (!resolved.endpoints.k6) throw new Error('no k6 binary in the endpoints (pnpm infra:install)');
    k6 = resolved.endpoints.k6;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    dir = await mkdtemp(join(tmpdir(), 'k6-setup-'));
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
    await stop?.();
  });

  it('counts only the scenario’s requests, and calls back when setup() is done', async () => {
    const port = (server.address() as AddressInfo).port;
    const lib = join(import.meta.dirname, '..', 'lib', 'measured.js');
    const script = join(dir, 'setup-then-load.js');
    // 40 requests and 1.5 s in setup, then 10 requests/s for 2 s.
    await writeFile(
      script,
      `import http from 'k6/http';
       import { sleep } from 'k6';
       import { setupDone, setupRequestCount } from '${lib}';
       export const options = {
         scenarios: { load: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '2s', preAllocatedVUs: 2 } },
         thresholds: { ...setupRequestCount },
       };
       export function setup() {
         for (let i = 0; i < 40; i++) http.get('http://127.0.0.1:${port}/setup');
         sleep(1.5);
         setupDone();
       }
       export default function () { http.get('http://127.0.0.1:${port}/load'); }`,
    );
    let calledAt: number | undefined;
    const started = performance.now();
    const result = await runK6(k6, script, {}, undefined, () => {
      calledAt = performance.now();
    });
    expect(result.exitCode).toBe(0);
    expect(calledAt).toBeDefined();
    expect(calledAt! - started).toBeGreaterThanOrEqual(1_400);
    expect(result.setupRequests).toBe(40);
    const all = Number(result.metrics.http_reqs?.count);
    expect(measuredRequests(result)).toBe(all - 40);
    expect(measuredRequests(result)).toBeGreaterThanOrEqual(19);
    expect(measuredRequests(result)).toBeLessThanOrEqual(21);
    // About 10/s over the measured seconds; k6's own rate, over the whole run, is diluted by setup.
    expect(result.measuredS).toBeGreaterThan(1.9);
    expect(result.measuredS).toBeLessThan(performance.now() - started);
    expect(achievedRate(result)).toBeGreaterThan(6);
    expect(achievedRate(result)).toBeLessThanOrEqual(11);
  }, 60_000);
});
