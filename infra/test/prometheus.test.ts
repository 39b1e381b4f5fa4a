import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, uniqueId } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startExample } from '../../libs/service-kit/test/spawn-example.ts';

async function queryUntil(prometheus: string, promql: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
    const sample = body.data.result[0];
    if (sample) return Number(sample.value[1]);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return undefined;
}

describe('Prometheus (real server)', () => {
  test("scrapes a kit service's /metrics and the series is queryable", async ({ endpoints }) => {
    expect(endpoints.prometheus, 'the stack provides Prometheus').toBeDefined();
    expect(
      endpoints.prometheusTargets,
      'the native stack reads scrape targets from a directory',
    ).toBeDefined();
    const service = await startExample();
    const instance = new URL(service.url).host;
    const targetFile = join(endpoints.prometheusTargets!, `testkit-${uniqueId()}.json`);
    try {
      for (let i = 0; i < 3; i++) expect((await fetch(`${service.url}/hello/ada`)).status).toBe(200);
      await writeFile(targetFile, JSON.stringify([{ targets: [instance], labels: { job: 'testkit' } }]));
      const count = await queryUntil(
        endpoints.prometheus!,
        `http_request_duration_seconds_count{instance="${instance}",route="/hello/:name",status_code="200"}`,
      );
      expect(count).toBe(3);
      const up = await queryUntil(endpoints.prometheus!, `up{instance="${instance}"}`);
      expect(up).toBe(1);
    } finally {
      await rm(targetFile, { force: true });
      service.child.kill('SIGTERM');
      await service.exited;
    }
  });
});
