import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { planFromCompose } from '../stack/plan.ts';

// The whole native stack as `pnpm stack up` starts it, checked the way a user would look at it:
// Prometheus scrapes every service, and one click's trace crosses ingest -> Kafka -> aggregator
// -> Postgres in Jaeger.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STACK = fileURLToPath(new URL('../stack/stack.ts', import.meta.url));
const exec = promisify(execFile);
const stack = (command: string, ...args: string[]) =>
  exec(process.execPath, ['--conditions=@sdlab/source', STACK, command, ...args], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });

beforeAll(async () => {
  await stack('up');
}, 320_000);

afterAll(async () => {
  await stack('down', '--keep-infra');
}, 120_000);

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('the native stack (pnpm stack up)', () => {
  test('every service and worker is ready and up in Prometheus', async ({ endpoints }) => {
    const plan = planFromCompose(ROOT, { ...endpoints, kafka: endpoints.kafka.join(',') });
    expect(plan.length).toBeGreaterThanOrEqual(3);
    for (const p of plan) {
      expect((await fetch(`http://127.0.0.1:${p.port}/readyz`)).status, p.name).toBe(200);
      const up = await poll(
        `up{job="${p.name}"}`,
        async () => {
          const query = encodeURIComponent(`up{job="${p.name}"}`);
          const body = (await (
            await fetch(`${endpoints.prometheus}/api/v1/query?query=${query}`)
          ).json()) as {
            data: { result: { value: [number, string] }[] };
          };
          const value = body.data.result[0]?.value[1];
          return value === '1' ? value : undefined;
        },
        30_000,
      );
      expect(up).toBe('1');
    }
  });

  test('one click produces one trace from the ingest through Kafka and the aggregator to Postgres', async ({
    endpoints,
  }) => {
    const api = 'http://127.0.0.1:8084';
    const adId = `trace-${randomBytes(3).toString('hex')}`;
    const ad = await fetch(`${api}/ads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ adId, campaignId: 'stack-test', targetUrl: 'https://example.com/landing' }),
    });
    expect(ad.status).toBeLessThan(300);
    const issued = await fetch(`${api}/ads/${adId}/impressions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 1 }),
    });
    const { impressions } = (await issued.json()) as { impressions: { id: string }[] };

    // Our own trace id on the way in, so the trace can be fetched by id.
    const traceId = randomBytes(16).toString('hex');
    const click = await fetch(`${api}/c/${impressions[0]!.id}`, {
      redirect: 'manual',
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(click.status).toBe(302);

    interface JaegerTrace {
      spans: { operationName: string; processID: string }[];
      processes: Record<string, { serviceName: string }>;
    }
    // The worker flushes windows every 10 s; its flush span joins the click's trace.
    const trace = await poll(
      'the click trace with the aggregator flush in it',
      async () => {
        const response = await fetch(`${endpoints.jaeger}/api/traces/${traceId}`);
        if (!response.ok) return undefined;
        const { data } = (await response.json()) as { data: JaegerTrace[] };
        const found = data[0];
        return found?.spans.some((s) => /flush/i.test(s.operationName)) ? found : undefined;
      },
      60_000,
    );
    const services = new Set(trace.spans.map((s) => trace.processes[s.processID]!.serviceName));
    const operations = trace.spans.map((s) => s.operationName);
    expect(services.size, `services: ${[...services].join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(operations).toContain('GET /c/:impression');
    expect(
      operations.some((o) => /^send /.test(o)),
      `operations: ${operations.join(', ')}`,
    ).toBe(true);
    expect(
      operations.some((o) => /^(pg\.query|INSERT|insert|BEGIN|COMMIT)/.test(o)),
      `operations: ${operations.join(', ')}`,
    ).toBe(true);
  });
});
