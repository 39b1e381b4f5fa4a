import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startExample } from '../../libs/service-kit/test/spawn-example.ts';

const SCRIPT = `
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: { hello: { executor: 'constant-arrival-rate', rate: 50, timeUnit: '1s', duration: '3s', preAllocatedVUs: 5 } },
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{expected_response:true}': ['p(95)<200'] },
};
export default function () {
  const res = http.get(__ENV.BASE_URL + '/hello/ada');
  check(res, { 'status is 200': (r) => r.status === 200 });
}
`;

describe('k6 (real binary)', () => {
  test('runs a short script against a kit service and its summary is parsed', async ({ endpoints }) => {
    expect(endpoints.k6, 'the stack provides a k6 binary').toBeDefined();
    const service = await startExample({ LOG_LEVEL: 'warn' });
    const dir = await mkdtemp(join(tmpdir(), 'sdlab-k6-'));
    try {
      await writeFile(join(dir, 'script.js'), SCRIPT);
      const summaryFile = join(dir, 'summary.json');
      await promisify(execFile)(
        endpoints.k6!,
        [
          'run',
          '--quiet',
          '--no-color',
          `--summary-export=${summaryFile}`,
          '-e',
          `BASE_URL=${service.url}`,
          'script.js',
        ],
        {
          cwd: dir,
          env: { ...process.env, K6_NO_USAGE_REPORT: 'true', K6_AUTO_EXTENSION_RESOLUTION: 'false' },
        },
      );
      const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as {
        metrics: Record<string, Record<string, number> & { thresholds?: Record<string, boolean> }>;
      };
      // 50 requests a second for 3 s, give or take the first and last tick.
      expect(summary.metrics.http_reqs!.count).toBeGreaterThanOrEqual(140);
      expect(summary.metrics.http_reqs!.count).toBeLessThanOrEqual(160);
      expect(summary.metrics.checks!.value).toBe(1);
      expect(summary.metrics.http_req_duration!['p(95)']).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
      service.child.kill('SIGTERM');
      await service.exited;
    }
  });
});
