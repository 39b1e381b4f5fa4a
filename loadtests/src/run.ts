// `pnpm load <service|all> [--profile smoke|full] [--rate N] [--capacity]`: starts what a scenario needs on
// the real servers, runs k6, measures the bare-handler limit at the same rate, writes a result.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createTestDatabase,
  dropTestDatabase,
  type Endpoints,
  resolveEndpoints,
  uniqueId,
} from '@sdlab/testkit/infra';
import { type CpuAccount, startCpuAccount } from './cpu-usage.ts';
import { achievedRate, type K6Result, runK6 } from './k6.ts';
import { commit, machineProfile } from './machine.ts';
import { assertPortFree, listeningAddress, type Running, startNode, waitReady } from './processes.ts';
import { redisEvalshaRate } from './redis-limit.ts';
import { markdown, type RunRecord, summarise, writeReport } from './report.ts';
import { availableServices, REPO_ROOT, SERVICES, type ServiceUnderTest } from './services.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    profile: { type: 'string', default: 'smoke' },
    capacity: { type: 'boolean', default: false },
    'capacity-start': { type: 'string', default: '500' },
    'capacity-steps': { type: 'string', default: '8' },
    traces: { type: 'boolean', default: false },
    rate: { type: 'string' },
    /** rate-limiter only: each arrival is one POST /v1/checks/batch of this many checks. */
    batch: { type: 'string' },
  },
});

const profile = values.profile === 'full' ? 'full' : 'smoke';
const targets = JSON.parse(readFileSync(join(REPO_ROOT, 'loadtests/targets.json'), 'utf8'));
let k6Binary = 'k6';
const RESULTS = join(REPO_ROOT, 'loadtests/results', profile === 'full' ? '' : 'smoke');

async function main(): Promise<number> {
  const wanted = positionals[0] ?? 'all';
  let services = wanted === 'all' ? availableServices() : SERVICES.filter((s) => s.name === wanted);
  if (values.batch) {
    const size = Number(values.batch);
    if (wanted !== 'rate-limiter' || !Number.isInteger(size) || size < 1 || size > 1000) {
      process.stderr.write('load: --batch <1..1000> is for the rate-limiter alone\n');
      return 2;
    }
    services = services.map(batchMode);
  }
  if (services.length === 0) {
    process.stderr.write(
      `load: no service named "${wanted}" (known: ${SERVICES.map((s) => s.name).join(', ')})\n`,
    );
    return 2;
  }
  const { endpoints, stop } = await resolveEndpoints();
  if (!endpoints.k6) throw new Error('load: no k6 binary in the endpoints (run pnpm infra:install)');
  k6Binary = endpoints.k6;
  let failures = 0;
  try {
    for (const service of services) {
      process.stdout.write(
        `\n=== ${service.name} (${profile}${values.capacity ? ', capacity search' : ''}) ===\n`,
      );
      const record = await runService(service, endpoints);
      const files = await writeReport(RESULTS, record);
      process.stdout.write(`${markdown(record)}\nresult: ${files.markdown}\n`);
      if (!record.passed) failures++;
    }
  } finally {
    await stop?.();
  }
  process.stdout.write(`\nload: ${services.length - failures} passed, ${failures} failed\n`);
  return failures === 0 ? 0 : 1;
}

async function runService(service: ServiceUnderTest, endpoints: Endpoints): Promise<RunRecord> {
  const database = service.postgres ? `load_${service.name.replaceAll('-', '_')}_${uniqueId()}` : undefined;
  const databaseUrl = database ? await createTestDatabase(endpoints.postgres, database) : undefined;
  const logDir = join(REPO_ROOT, 'loadtests/results/logs');
  const env = {
    NODE_ENV: 'production',
    SDLAB_DEV_MODE: 'true', // the committed development secrets and endpoints (chat's POST /tokens)
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: endpoints.redis,
    KAFKA_BROKERS: endpoints.kafka.join(','),
    ELASTICSEARCH_URL: endpoints.elasticsearch,
    OTEL_EXPORTER_OTLP_ENDPOINT: values.traces ? endpoints.otlp : undefined,
    // Topics and consumer groups of this run alone: a million benchmark clicks must not become the
    // backlog of the stack's own topics (`pnpm stack up` uses the default names).
    ...runTopics(`load-${uniqueId()}`),
  };
  const running: Running[] = [];
  try {
    for (const p of service.processes) await assertPortFree(p.port);
    for (const [i, p] of service.processes.entries()) {
      const proc = await startNode(
        `${service.name}-${i}`,
        join(REPO_ROOT, 'services', p.dir ?? service.name),
        p.entry,
        { ...env, PORT: String(p.port), ...p.env },
        logDir,
      );
      running.push(proc);
      await waitReady(`http://127.0.0.1:${p.port}/readyz`, proc);
    }
    const measured = running.map((proc, i) => ({
      name: processLabel(service, service.processes[i]!),
      pid: proc.child.pid!,
    }));
    const bare = await startNode('bare-fastify', REPO_ROOT, 'loadtests/limits/bare-fastify.ts', {}, logDir);
    running.push(bare);
    const bareUrl = await listeningAddress(bare);
    // The service's own API: the first process started from its own folder (helpers come first).
    const api = service.processes.find((p) => !p.dir && p.entry === 'src/main.ts') ?? service.processes[0]!;
    const baseUrl = `http://127.0.0.1:${api.port}`;
    const scenario = join(REPO_ROOT, 'loadtests/scenarios', `${service.name}.js`);

    // Warm up first, as a deployment does before taking traffic [000:1212]: JIT, connection pools
    // and caches reach steady state; this pass is not measured.
    const k6Env = { BASE_URL: baseUrl, ...service.k6Env };
    await runK6(endpoints.k6!, scenario, { ...k6Env, PROFILE: 'smoke', DURATION: '5s' });
    // With --capacity the search comes first and the measured run is made at the highest rate that
    // held: its percentiles then describe one instance at its sustained capacity.
    const capacity = values.capacity
      ? await capacitySearch(endpoints.k6!, scenario, baseUrl, bareUrl, service)
      : undefined;
    let account = startCpuAccount(measured);
    let result = await runK6(endpoints.k6!, scenario, {
      ...k6Env,
      PROFILE: profile,
      ...(values.rate ? { RATE: values.rate } : {}),
      ...(capacity?.highestHeldRps ? { RATE: String(capacity.highestHeldRps) } : {}),
    });
    let cpu = account.finish(result.cpuMs);
    // A short step can hold a rate a full-length run cannot (tables and heaps grow, GC and
    // vacuum catch up): the full run confirms the rate, or the rate steps down by 20% and tries again.
    for (let i = 0; capacity?.highestHeldRps && i < 3; i++) {
      const ok = passed(result);
      capacity.steps.push({
        rate: capacity.highestHeldRps,
        held: ok,
        achievedRps: throughputOf(service, result),
        duration: 'full',
      });
      process.stdout.write(
        `capacity: ${capacity.highestHeldRps}/s for the full run -> ${ok ? 'held' : 'broke'}\n`,
      );
      if (ok) break;
      capacity.highestHeldRps = Math.round(capacity.highestHeldRps * 0.8);
      if (capacity.ratioToLimit) capacity.ratioToLimit *= 0.8;
      if (i === 2) {
        capacity.highestHeldRps = 0;
        capacity.ratioToLimit = undefined;
        break;
      }
      account = startCpuAccount(measured);
      result = await runK6(endpoints.k6!, scenario, {
        ...k6Env,
        PROFILE: profile,
        RATE: String(capacity.highestHeldRps),
      });
      cpu = account.finish(result.cpuMs);
    }
    const rate = Math.max(1, Math.round(achievedRate(result)));
    const limit = await runK6(endpoints.k6!, join(REPO_ROOT, 'loadtests/limits/bare.js'), {
      PROFILE: profile,
      BASE_URL: bareUrl,
      RATE: String(rate),
      DURATION: '30s',
    });
    const redis = service.redisLimit ? await redisEvalshaRate(endpoints.redis) : undefined;
    return record(service, result, limit, cpu, capacity, redis);
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    if (database) await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
  }
}

/** `url-shortener-worker`, `chat-gateway (gw-2)`: what a process is, for the CPU table. */
function processLabel(service: ServiceUnderTest, p: ServiceUnderTest['processes'][number]): string {
  const role = p.entry.replace(/^src\//, '').replace(/\.ts$/, '');
  const name = `${p.dir ?? service.name}${role === 'main' ? '' : `-${role}`}`;
  return p.env?.INSTANCE_ID ? `${name} (${p.env.INSTANCE_ID})` : name;
}

/**
 * The decision service with batches: the rate counts batch calls, the throughput counts the
 * decisions in them, so it compares with raw EVALSHA per decision.
 */
function batchMode(service: ServiceUnderTest): ServiceUnderTest {
  return {
    ...service,
    k6Env: { ...service.k6Env, BATCH: String(values.batch) },
    throughputMetric: 'ratelimit_decisions',
    unit: 'decisions/s',
    rateUnit: `batch calls/s (${values.batch} checks each)`,
    measures: [...(service.measures ?? []), 'ratelimit_decisions'],
  };
}

function runTopics(prefix: string): Record<string, string> {
  return {
    CLICKS_TOPIC: `${prefix}.clicks`,
    DEAD_LETTER_TOPIC: `${prefix}.clicks.dead-letter`,
    CONSUMER_GROUP: `${prefix}-aggregator`,
    STATS_GROUP_ID: `${prefix}-stats`,
  };
}

/** Share of arrivals k6 may drop at a rate that still counts as offered. */
const MAX_DROPPED_SHARE = 0.01;

async function capacitySearch(
  k6: string,
  scenario: string,
  baseUrl: string,
  bareUrl: string,
  service: ServiceUnderTest,
) {
  const steps: { rate: number; held: boolean; achievedRps: number; duration: string }[] = [];
  const attempt = async (rate: number): Promise<boolean> => {
    const result = await runK6(k6, scenario, {
      PROFILE: profile,
      BASE_URL: baseUrl,
      ...service.k6Env,
      RATE: String(rate),
      DURATION: '20s',
    });
    // k6 counts the arrivals it could not start (no free VU in time) as dropped iterations; a rate
    // is held when every threshold holds and k6 really offered it (at most 1% dropped: a few are
    // dropped while k6 grows its VU pool). http_reqs.rate is no measure here: its denominator
    // includes setup(), which seeds data.
    const dropped = Number(result.metrics.dropped_iterations?.count ?? 0);
    const arrivals = Number(result.metrics.iterations?.count ?? 0) + dropped;
    const held = result.thresholds.every((t) => t.ok) && dropped <= arrivals * MAX_DROPPED_SHARE;
    steps.push({ rate, held, achievedRps: throughputOf(service, result), duration: '20s' });
    process.stdout.write(
      `capacity: ${rate}/s -> ${held ? 'held' : `broke (${brokenBy(result, dropped)})`}\n`,
    );
    return held;
  };
  // Up by 1.5x until a rate breaks, then halve the gap twice between the last held and that one.
  let rate = Number(values['capacity-start']);
  let held = 0;
  let broke = 0;
  for (let i = 0; i < Number(values['capacity-steps']); i++) {
    if (!(await attempt(rate))) {
      broke = rate;
      break;
    }
    held = rate;
    rate = Math.round(rate * 1.5);
  }
  for (let i = 0; i < 2 && broke > 0 && held > 0 && broke - held > held * 0.05; i++) {
    const middle = Math.round((held + broke) / 2);
    if (await attempt(middle)) held = middle;
    else broke = middle;
  }
  const highestHeldRps = Math.max(0, ...steps.filter((s) => s.held).map((s) => s.rate));
  let ratioToLimit: number | undefined;
  if (highestHeldRps > 0) {
    // The bare handler at a rate well above what the service held shows the headroom of the machine itself.
    const bare = await runK6(k6, join(REPO_ROOT, 'loadtests/limits/bare.js'), {
      BASE_URL: bareUrl,
      RATE: String(highestHeldRps * 4),
      DURATION: '20s',
    });
    ratioToLimit = highestHeldRps / Math.max(1, achievedRate(bare));
  }
  return { highestHeldRps, steps, ratioToLimit };
}

function passed(result: K6Result): boolean {
  return result.thresholds.every((t) => t.ok) && result.exitCode === 0;
}

/** Which thresholds broke, for the progress line. */
function brokenBy(result: K6Result, dropped: number): string {
  const broken = result.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression}`);
  if (dropped > 0) broken.push(`${dropped} arrivals dropped`);
  return broken.join('; ') || 'k6 failed';
}

/** Requests per second, or the service's own unit where it is not HTTP (delivered messages). */
function throughputOf(service: ServiceUnderTest, result: K6Result): number {
  return service.throughputMetric
    ? Number(result.metrics[service.throughputMetric]?.rate ?? 0)
    : achievedRate(result);
}

function record(
  service: ServiceUnderTest,
  result: K6Result,
  limit: K6Result,
  cpu: CpuAccount,
  capacity?: RunRecord['capacity'],
  redis?: { rps: number; command: string },
): RunRecord {
  const { metrics, measures, errorRate } = summarise(result, service.measures);
  const lim = limit.metrics.http_req_duration ?? {};
  const limitP95 = Number(lim['p(95)'] ?? 0);
  const servicePrimary = Number(result.metrics[service.primaryMetric]?.['p(95)'] ?? 0);
  const documented = targets[service.name][service.throughputTarget];
  const throughput = throughputOf(service, result);
  const held = capacity?.highestHeldRps || throughput;
  const httpRequests = Number(result.metrics.http_reqs?.count ?? 0);
  return {
    service: service.name,
    profile,
    date: new Date().toISOString(),
    commit: commit(),
    command: `pnpm load ${service.name} --profile ${profile}${values.rate ? ` --rate ${values.rate}` : ''}${values.batch ? ` --batch ${values.batch}` : ''}${values.capacity ? ` --capacity --capacity-start ${values['capacity-start']}` : ''}`,
    machine: machineProfile(k6Binary),
    achievedRps: throughput,
    ...(service.unit ? { unit: service.unit } : {}),
    ...(service.rateUnit ? { rateUnit: service.rateUnit } : {}),
    metrics,
    ...(measures.length ? { measures } : {}),
    errorRate,
    limit: {
      path: 'bare Fastify handler',
      achievedRps: achievedRate(limit),
      p50: Number(lim['p(50)'] ?? 0),
      p95: limitP95,
      p99: Number(lim['p(99)'] ?? 0),
    },
    latencyRatio: limitP95 > 0 ? servicePrimary / limitP95 : 0,
    cpu: {
      ...cpu,
      // Per HTTP request only where requests are the unit (a chat message is not one).
      ...(!service.throughputMetric && httpRequests > 0
        ? { msPerRequest: cpu.processes.reduce((sum, p) => sum + p.cpuMs, 0) / httpRequests }
        : {}),
    },
    ...(capacity ? { capacity } : {}),
    ...(redis ? { redisLimit: { ...redis, ratio: held / Math.max(1, redis.rps) } } : {}),
    documentedThroughput: documented,
    instancesNeeded: Math.ceil(documented.value / Math.max(1, held)),
    passed: passed(result),
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `load: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
