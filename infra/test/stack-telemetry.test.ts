import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { devToken } from '@sdlab/service-kit/auth';
import { test } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { planFromCompose } from '../stack/plan.ts';

// The whole native stack as `pnpm stack up` starts it, checked the way a user would look at it:
// every service and worker ready and scraped by Prometheus, and one ad click traced end to end in
// Jaeger: ingest → spool ship → Kafka → the aggregator's flush → Postgres.
// SDLAB_STACK=compose checks a running `docker compose up` stack instead (CI's compose step): the
// servers come from the environment variables, the services answer on their published ports.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STACK = fileURLToPath(new URL('../stack/stack.ts', import.meta.url));
const exec = promisify(execFile);
const stack = (command: string, ...args: string[]) =>
  exec(process.execPath, ['--conditions=@sdlab/source', STACK, command, ...args], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });

const COMPOSE = process.env.SDLAB_STACK === 'compose';

beforeAll(async () => {
  if (!COMPOSE) await stack('up');
}, 320_000);

afterAll(async () => {
  if (!COMPOSE) await stack('down', '--keep-infra');
}, 120_000);

/** Where a process answers from the host: its own port natively, its published port under compose. */
function hostUrl(name: string, port: number): string {
  if (!COMPOSE) return `http://127.0.0.1:${port}`;
  const published = process.env[`SDLAB_${name.toUpperCase().replaceAll('-', '_')}_PORT`] ?? port;
  return `http://127.0.0.1:${published}`;
}

async function poll<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe(COMPOSE ? 'the compose stack (docker compose up)' : 'the native stack (pnpm stack up)', () => {
  test('every service and worker is ready and up in Prometheus', async ({ endpoints }) => {
    const plan = planFromCompose(ROOT, { ...endpoints, kafka: endpoints.kafka.join(',') });
    expect(plan.length).toBeGreaterThanOrEqual(3);
    for (const p of plan) {
      expect((await fetch(`${hostUrl(p.name, p.port)}/readyz`)).status, p.name).toBe(200);
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
});

interface JaegerSpan {
  spanID: string;
  operationName: string;
  processID: string;
  references: { refType: string; spanID: string; traceID: string }[];
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

describe('one ad click, one trace', () => {
  test('the click shows in Jaeger from the ingest through Kafka and the aggregator to Postgres', {
    timeout: 240_000,
  }, async ({ endpoints }) => {
    expect(endpoints.jaeger, 'the native stack provides the Jaeger query API').toBeDefined();
    const plan = planFromCompose(ROOT, { ...endpoints, kafka: endpoints.kafka.join(',') });
    const ingest = hostUrl('ad-click-aggregator', plan.find((p) => p.name === 'ad-click-aggregator')!.port);
    const adId = `trace-${randomBytes(4).toString('hex')}`;
    const operator = { authorization: `Bearer ${await devToken('sdlab-ads', ['admin'])}` };
    const json = { 'content-type': 'application/json', ...operator };
    const created = await fetch(`${ingest}/ads`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ adId, campaignId: 'trace', targetUrl: 'https://shop.example.com/sale' }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const signed = (await (
      await fetch(`${ingest}/ads/${adId}/impressions`, { method: 'POST', headers: json, body: '{"count":1}' })
    ).json()) as { impressions: { clickUrl: string }[] };

    // The test starts the trace itself (W3C traceparent, sampled), so it knows which one to read.
    const traceId = randomBytes(16).toString('hex');
    const click = await fetch(`${ingest}${signed.impressions[0]!.clickUrl}`, {
      redirect: 'manual',
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(click.status).toBe(302);
    expect(click.headers.get('x-click-outcome')).toBe('recorded');

    // Counted: the worker flushed the click's window to Postgres (partial results every 10 s; a
    // consumer-group rebalance can hold the partitions up to a session timeout first).
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const workerPort = plan.find((p) => p.name === 'ad-click-aggregator-worker')!.port;
    try {
      await poll(
        `${adId}'s click in the query API`,
        async () => {
          const body = (await (
            await fetch(`${ingest}/ads/${adId}/clicks?granularity=hour&from=${from}&to=${to}`, {
              headers: operator,
            })
          ).json()) as { buckets?: { clicks: number }[] };
          const total = (body.buckets ?? []).reduce((sum, w) => sum + w.clicks, 0);
          return total === 1 ? total : undefined;
        },
        120_000,
      );
    } catch (error) {
      // What the worker was doing: its assignment, lag and flushes say where the click stopped.
      const worker = hostUrl('ad-click-aggregator-worker', workerPort);
      const metrics = await (await fetch(`${worker}/metrics`)).text().catch(String);
      const lines = metrics.split('\n').filter((l) => l.startsWith('sdlab_adclick_'));
      throw new Error(`${(error as Error).message}; worker metrics:\n${lines.join('\n')}`);
    }

    let last: JaegerTrace | undefined;
    const services = (t: JaegerTrace, span: JaegerSpan) => t.processes[span.processID]?.serviceName;
    const spans = await poll(
      () => `trace ${traceId} with the ingest, Kafka and flush spans; last seen: ${describeTrace(last)}`,
      async () => {
        const response = await fetch(`${endpoints.jaeger}/api/traces/${traceId}`);
        if (!response.ok) return undefined;
        const [t] = ((await response.json()) as { data: JaegerTrace[] }).data;
        last = t;
        if (!t) return undefined;
        const named = t.spans.map((s) => ({ ...s, service: services(t, s) }));
        const flush = named.find((s) => s.operationName === 'aggregator flush');
        const underFlush = flush && named.some((s) => s.references.some((r) => r.spanID === flush.spanID));
        return underFlush ? named : undefined;
      },
      90_000,
    );
    const has = (service: string, operation: RegExp) =>
      spans.some((s) => s.service === service && operation.test(s.operationName));
    expect(has('ad-click-aggregator', /^GET \/c\//), 'the ingest request').toBe(true);
    expect(has('ad-click-aggregator', /^spool ship$/), 'the spool shipping the click').toBe(true);
    expect(has('ad-click-aggregator', /send|publish/i), 'the Kafka produce').toBe(true);
    expect(has('ad-click-aggregator-worker', /^aggregator flush$/), "the aggregator's flush").toBe(true);
    const flush = spans.find((s) => s.operationName === 'aggregator flush')!;
    // Everything beneath the flush, at any depth.
    const under = new Set([flush.spanID]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of spans)
        if (
          !under.has(s.spanID) &&
          s.references.some((r) => r.refType === 'CHILD_OF' && under.has(r.spanID))
        ) {
          under.add(s.spanID);
          grew = true;
        }
    }
    const beneath = spans.filter((s) => s.spanID !== flush.spanID && under.has(s.spanID));
    const postgres = beneath.filter((s) =>
      s.tags.some((t) => (t.key === 'db.system' || t.key === 'db.system.name') && t.value === 'postgresql'),
    );
    expect(
      postgres.length,
      `Postgres spans under the flush (${beneath.map((s) => s.operationName)})`,
    ).toBeGreaterThan(0);
  });
});

function describeTrace(t: JaegerTrace | undefined): string {
  if (!t) return 'nothing';
  return t.spans.map((s) => `${t.processes[s.processID]?.serviceName}:${s.operationName}`).join(', ');
}
