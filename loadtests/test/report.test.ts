import { describe, expect, it } from 'vitest';
import type { K6Result } from '../src/k6.ts';
import {
  type BareRun,
  bareFor,
  cheapestStart,
  markdown,
  middleRatio,
  type RunRecord,
  resultStamp,
  summarise,
  thresholdObserved,
  type VariantRun,
  variantVerdict,
} from '../src/report.ts';
import { efficiencyTable } from '../src/results-table.ts';

const k6Result: K6Result = {
  exitCode: 99,
  output: '',
  cpuMs: 0,
  setupRequests: 0,
  measuredS: 10,
  metrics: {
    'http_req_duration{scenario:redirects}': {
      'p(50)': 1.5,
      'p(95)': 4.25,
      'p(99)': 9.75,
      thresholds: { 'p(95)<50': false },
    },
    'http_req_duration{scenario:creates}': {
      'p(50)': 3,
      'p(95)': 120,
      'p(99)': 140,
      thresholds: { 'p(95)<100': true },
    },
    http_req_failed: { value: 0.002, thresholds: { 'rate<0.0001': true } },
    http_reqs: { count: 1000, rate: 99.8 },
  },
  thresholds: [
    { metric: 'http_req_duration{scenario:redirects}', expression: 'p(95)<50', ok: true },
    { metric: 'http_req_duration{scenario:creates}', expression: 'p(95)<100', ok: false },
    { metric: 'http_req_failed', expression: 'rate<0.0001', ok: false },
  ],
};

describe('load-test report', () => {
  it('keeps the percentiles and the verdict of every thresholded metric, and the error rate', () => {
    const { metrics, errorRate } = summarise(k6Result);
    expect(errorRate).toBe(0.002);
    expect(metrics).toContainEqual({
      metric: 'http_req_duration{scenario:creates}',
      p50: 3,
      p95: 120,
      p99: 140,
      thresholds: [{ expression: 'p(95)<100', ok: false }],
    });
    expect(metrics.map((m) => m.metric)).not.toContain('http_reqs');
  });

  it('prints the percentile a threshold names, not p95 for every threshold', () => {
    const metric = { metric: 'http_req_duration', p50: 1.5, p95: 4.25, p99: 9.75, thresholds: [] };
    expect(thresholdObserved(metric, 'p(99)<10')).toBe('p99 9.8 ms');
    expect(thresholdObserved(metric, 'p(95)<50')).toBe('p95 4.3 ms');
    expect(thresholdObserved(metric, 'rate<0.0001')).toBeUndefined();
    expect(thresholdObserved({ ...metric, p99: undefined }, 'p(99)<10')).toBeUndefined();
  });

  // Recorded from a rate-limiter run at 2,000 checks/s with k6 on core 1 and the service on core 0.
  const cpu = (serviceMs: number) => ({
    wallS: 60,
    cores: 2,
    machineBusy: 0.6,
    k6: { cores: 0.5, cpuMs: 30_000 },
    processes: [{ name: 'rate-limiter', cores: serviceMs / 60_000, cpuMs: serviceMs }],
  });
  const run = (config: 'lean' | 'stack', serviceMs: number, p99: number): VariantRun => ({
    config,
    cores: { service: '0', k6: '1' },
    offeredPerS: 2000,
    achievedPerS: 2000,
    primary: {
      metric: 'http_req_duration{scenario:checks}',
      p50: 0.8,
      p95: 2,
      p99,
      threshold: { percentile: 99, ms: 10 },
    },
    metrics: [
      {
        metric: 'http_req_duration{scenario:checks}',
        p50: 0.8,
        p95: 2,
        p99,
        thresholds: [{ expression: 'p(99)<10', ok: p99 < 10 }],
      },
    ],
    errorRate: 0,
    cpu: cpu(serviceMs),
    cost: {
      requests: 120_000,
      units: 120_000,
      serviceMsPerRequest: serviceMs / 120_000,
      serviceMsPerUnit: serviceMs / 120_000,
      k6MsPerRequest: 0.25,
    },
    memory: [{ name: 'rate-limiter', idleRssMb: 120, loadedRssMb: 180 }],
    passed: p99 < 10,
  });
  const bare = (p99: number): BareRun => ({
    shape: 'POST with 50 B of JSON -> 200 with 110 B of JSON',
    cores: '0',
    rate: 2000,
    achievedPerS: 2000,
    p50: 0.4,
    p95: 1,
    p99,
    msPerRequest: 0.05,
    k6MsPerRequest: 0.12,
    machineBusy: 0.4,
  });
  const recordOf = (runs: VariantRun[], bares: BareRun[]): RunRecord => ({
    service: 'rate-limiter',
    hotPath: 'POST /v1/checks',
    profile: 'full',
    date: '2026-12-06T05:00:00.000Z',
    commit: 'abc1234',
    command: 'pnpm load rate-limiter --profile full',
    machine: { cores: 2, memoryGiB: 23.4, cpuModel: 'Test CPU', node: 'v24.21.0', k6: 'k6 v1.8.1' },
    runs,
    bare: bares,
    verdicts: runs.map((r) => variantVerdict(r, bares, 100_000)),
    documentedThroughput: { value: 100_000, source: '[002:482]', text: '~100K checks/s' },
    passed: runs.every((r) => r.passed),
  });

  it('takes the cheapest fresh start of the service, lists every start, and fails the run when any start broke a threshold', () => {
    // 12,000 / 9,000 / 10,500 ms over 120,000 checks; the second start broke p(99)<10.
    const starts = [run('lean', 12_000, 4), run('lean', 9_000, 11.5), run('lean', 10_500, 3)];
    const chosen = cheapestStart(starts);
    expect(chosen.cost.serviceMsPerUnit).toBeCloseTo(0.075, 6);
    expect(chosen.primary.p99).toBe(11.5);
    expect(chosen.passed).toBe(false);
    expect(chosen.starts?.map((s) => s.passed)).toEqual([true, false, true]);
    expect(chosen.starts?.[1]?.broke).toEqual(['http_req_duration{scenario:checks} p(99)<10']);
    const record = recordOf([chosen], [bare(2)]);
    expect(record.passed).toBe(false);
    const text = markdown(record);
    expect(text).toContain('- lean: 3 fresh starts of the service');
    expect(text).toContain('start 1: 100.0 µs a request, p99 4.00 ms, thresholds held');
    expect(text).toContain(
      'start 2: 75.0 µs a request, p99 11.50 ms, **broke http_req_duration{scenario:checks} p(99)<10**',
    );
    // One start: the run as it was, no list.
    const single = cheapestStart([run('lean', 12_000, 4)]);
    expect(single.starts).toBeUndefined();
    expect(markdown(recordOf([single], [bare(2)]))).not.toContain('fresh starts of the service');
    // A start that completed nothing (no cost per unit) is never the cheapest, even when first.
    const none = run('lean', 0, 50);
    expect(cheapestStart([none, run('lean', 12_000, 4)]).cost.serviceMsPerUnit).toBeCloseTo(0.1, 6);
    // All held: the run passes, on the cheapest start's figures.
    const held = cheapestStart([run('lean', 12_000, 4), run('lean', 10_000, 5)]);
    expect(held.passed).toBe(true);
    expect(held.cost.serviceMsPerUnit).toBeCloseTo(10_000 / 120_000, 6);
  });

  it("prints the hypervisor's share of the machine beside each start and each bare process, when recorded", () => {
    const withSteal = (r: VariantRun, share: number): VariantRun => ({
      ...r,
      cpu: { ...r.cpu, machineSteal: share },
    });
    const chosen = cheapestStart([
      withSteal(run('lean', 12_000, 4), 0),
      withSteal(run('lean', 9_000, 5), 0.031),
    ]);
    expect(chosen.starts?.map((s) => s.machineSteal)).toEqual([0, 0.031]);
    const bares: BareRun[] = [
      {
        ...bare(2),
        machineSteal: 0.002,
        processesMsPerRequest: [0.05, 0.07],
        processesMachineSteal: [0.002, 0.12],
      },
    ];
    const text = markdown(recordOf([chosen], bares));
    expect(text).toContain('start 1: 100.0 µs a request, p99 4.00 ms, steal 0.0%, thresholds held');
    expect(text).toContain('start 2: 75.0 µs a request, p99 5.00 ms, steal 3.1%, thresholds held');
    expect(text).toContain(
      '(the cheapest of 2 fresh processes: 50.0 µs (steal 0.2%), 70.0 µs (steal 12.0%)), machine 40% busy, steal 0.2%',
    );
    expect(text).toContain('machine 60% busy, steal 3.1% on 2 cores');
    // Results from before steal was recorded print as they did.
    expect(
      markdown(recordOf([cheapestStart([run('lean', 12_000, 4), run('lean', 9_000, 5)])], [bare(2)])),
    ).not.toContain('steal');
  });

  it("reads the middle start against the bare handler's middle process beside the cheapest of each", () => {
    // Starts at 100, 75 and 87.5 µs a check; bare processes 50, 80 and 60 µs: cheapest 50/75 = 0.67×,
    // middles 60/87.5 = 0.69×.
    const starts = [run('lean', 12_000, 4), run('lean', 9_000, 5), run('lean', 10_500, 3)];
    const bares = [{ ...bare(2), processesMsPerRequest: [0.05, 0.08, 0.06] }];
    const record = recordOf([cheapestStart(starts)], bares);
    expect(record.verdicts[0]!.efficiency!.ratio).toBeCloseTo(0.05 / 0.075, 6);
    expect(middleRatio(record, record.runs[0]!)).toBeCloseTo(0.06 / 0.0875, 6);
    expect(markdown(record)).toContain("The middle start against the bare handler's middle process: 0.69×");
    // Per unit, as holds are counted: 2 requests a hold, so a start's per-unit cost is halved per request.
    const perHold = (r: VariantRun): VariantRun => ({
      ...r,
      cost: { ...r.cost, units: 60_000, serviceMsPerUnit: r.cost.serviceMsPerRequest * 2 },
    });
    const holds = recordOf([cheapestStart(starts.map(perHold))], bares);
    expect(middleRatio(holds, holds.runs[0]!)).toBeCloseTo(0.06 / 0.0875, 6);
    // No middle to read: two starts, or bare processes not recorded (results before 2026-12-06 20:40).
    const two = recordOf([cheapestStart(starts.slice(0, 2))], bares);
    expect(middleRatio(two, two.runs[0]!)).toBeUndefined();
    const old = recordOf([cheapestStart(starts)], [bare(2)]);
    expect(middleRatio(old, old.runs[0]!)).toBeUndefined();
    expect(markdown(old)).not.toContain('middle start');
  });

  it("names each start's cost and the run-queue wait in the service's own unit", () => {
    // 120,000 delivered messages; the main thread waited 6,000 ms for its core in all.
    const waited = (r: VariantRun): VariantRun => ({
      ...r,
      cpu: { ...r.cpu, processes: r.cpu.processes.map((p) => ({ ...p, waitMs: 6_000 })) },
    });
    const chat = {
      ...recordOf([cheapestStart([run('lean', 12_000, 4), run('lean', 9_000, 5)].map(waited))], [bare(2)]),
      unit: 'msg/s',
    };
    const text = markdown(chat);
    expect(text).toContain('start 2: 75.0 µs a message,');
    expect(text).toContain('main thread waiting for its core, a delivered message: rate-limiter 50.0 µs');
    expect(text).toContain('| msg per core |');
    // Holds: the starts count holds, the wait is per HTTP request.
    const holds = markdown({ ...chat, unit: 'holds/s' });
    expect(holds).toContain('start 2: 75.0 µs a hold,');
    expect(holds).toContain('main thread waiting for its core, a request: rate-limiter 50.0 µs');
  });

  it('reads each configuration against the bare run on the same cores: efficiency, per core, cores needed', () => {
    // lean: 12,000 ms over 120,000 checks = 0.1 ms per check, bare 0.05 -> 0.5x, 10,000 per core.
    // stack: 24,000 ms -> 0.2 ms per check -> 0.25x, 5,000 per core: the stack costs 50 %.
    const record = recordOf([run('lean', 12_000, 3), run('stack', 24_000, 12)], [bare(2)]);
    expect(record.verdicts.map((v) => v.efficiency?.ratio)).toEqual([0.5, 0.25]);
    expect(record.verdicts.map((v) => v.efficiency?.coresForDocumented)).toEqual([10, 20]);
    const text = markdown(record);
    expect(text).toContain(
      '| lean | service 0 / k6 1 | 2,000 | 2,000 | 0.80 / 2.00 / 3.00 ms | 2.00 ms | no | 100.0 µs | 50.0 µs | **0.50×** | 10,000 | 10 | 250.0 µs (120.0 µs) |',
    );
    expect(text).toContain('| stack | service 0 / k6 1 |');
    expect(text).toContain('costs 50% of the lean req/s per core (10,000 → 5,000)');
    expect(text).toContain('- lean: not generator-bound');
    expect(text).toContain(
      '| stack | `http_req_duration{scenario:checks}` | 0.80 ms | 2.00 ms | 12.00 ms | `p(99)<10` | **FAIL** |',
    );
    expect(text).toContain('**a threshold broke**');
    expect(text).toContain('rate-limiter 120 → 180 MB');
  });

  it('reads each configuration against the bare run on its own cores, and the first bare run when none matches', () => {
    // The unpinned bare run (0.2 ms) comes first; the lean start on core 0 must be read against
    // the bare run on core 0 (0.05 ms): 0.5x, not 2x.
    const unpinned: BareRun = { ...bare(2), cores: undefined, msPerRequest: 0.2 };
    const onCore0 = bare(2);
    expect(bareFor([unpinned, onCore0], run('lean', 12_000, 3))).toBe(onCore0);
    const record = recordOf([run('lean', 12_000, 3)], [unpinned, onCore0]);
    expect(record.verdicts[0]?.efficiency?.ratio).toBe(0.5);
    // A start on a core no bare run used falls back to the first bare run.
    const elsewhere: VariantRun = { ...run('lean', 12_000, 3), cores: { service: '1', k6: '0' } };
    expect(bareFor([unpinned, onCore0], elsewhere)).toBe(unpinned);
    expect(bareFor([], elsewhere)).toBeUndefined();
  });

  it("reads the hot path's own process against the bare handler too, beside the all-process figure", () => {
    // The ingest beside its aggregation worker: 120,000 requests, 9,000 ms of the two processes'
    // CPU, 6,000 of them the ingest's over the 119,940 requests it served (60 lag samples went to
    // the worker) -> 0.05 ms bare / 0.0500 ms = 1.00x, while all processes over all requests are 0.67x.
    const ingest = run('lean', 9000, 3);
    ingest.cost.hotProcess = {
      name: 'ad-click-aggregator',
      served: 'clicks, queries and freshness probes',
      requests: 119_940,
      msPerRequest: 6000 / 119_940,
    };
    const record = recordOf([ingest], [bare(2)]);
    expect(record.verdicts[0]!.efficiency?.ratio).toBeCloseTo(0.667, 3);
    expect(record.verdicts[0]!.hotProcessRatio).toBeCloseTo(0.9995, 4);
    expect(markdown(record)).toContain(
      'ad-click-aggregator alone: 50.0 µs of its own CPU per request it served (119,940 requests: clicks, queries and freshness probes): **1.00×** of the bare handler per request',
    );
    expect(markdown(recordOf([run('lean', 9000, 3)], [bare(2)]))).not.toContain('alone:');
    const [row] = efficiencyTable([{ file: 'x.json', record }]).slice(2);
    expect(row).toContain('| **0.67×** all processes; ad-click-aggregator alone **1.00×** |');
    const [plain] = efficiencyTable([
      { file: 'y.json', record: recordOf([run('lean', 9000, 3)], [bare(2)]) },
    ]).slice(2);
    expect(plain).toContain('| **0.67×** all processes |');
  });

  it('lists no exported count (a `count>=0` threshold) among the targets', () => {
    const exported: K6Result = {
      ...k6Result,
      metrics: {
        ...k6Result.metrics,
        'http_reqs{scenario:lag}': { count: 30, thresholds: { 'count>=0': false } },
        'http_reqs{group:::setup}': { count: 40, thresholds: { 'count>=0': false } },
      },
    };
    const names = summarise(exported).metrics.map((m) => m.metric);
    expect(names).toContain('http_req_duration{scenario:creates}');
    expect(names).not.toContain('http_reqs{scenario:lag}');
    expect(names).not.toContain('http_reqs{group:::setup}');
  });

  it("says a rate is the generator's when the bare handler already spends over half the threshold", () => {
    const record = recordOf([run('lean', 12_000, 9)], [bare(6.5)]);
    expect(record.verdicts[0]!.generatorBound).toBe(true);
    expect(markdown(record)).toContain(
      '**lean: generator-bound.** The bare handler of the same shape had p99 6.50 ms',
    );
    expect(markdown(recordOf([run('lean', 12_000, 9)], [bare(4.9)]))).not.toContain('generator-bound.**');
  });

  it('names what ended a capacity search', () => {
    const record: RunRecord = {
      ...recordOf([run('lean', 12_000, 3)], [bare(2)]),
      capacity: {
        highestHeldRps: 3375,
        stoppedBy: 'generator',
        steps: [
          {
            rate: 3375,
            held: true,
            achievedPerS: 3375,
            p99: 4,
            bareP99: 3,
            generatorBound: false,
            duration: '20s',
          },
          {
            rate: 5063,
            held: true,
            achievedPerS: 5063,
            p99: 8,
            bareP99: 6.5,
            generatorBound: true,
            duration: '20s',
          },
        ],
      },
    };
    const text = markdown(record);
    expect(text).toContain('**3375 req/s**');
    expect(text).toContain("The search stopped at the generator's limit");
    expect(text).toContain('| 5063 | 20s | 5063 | 8.00 ms | 6.50 ms | generator-bound |');
  });
});

describe('result file names', () => {
  it('tell two runs of one minute apart, and sort in time order with the minute-stamped names before them', () => {
    const first = resultStamp('2026-12-07T06:43:05.120Z');
    const second = resultStamp('2026-12-07T06:43:41.713Z');
    expect(first).toBe('20261207T064305');
    expect(second).not.toBe(first);
    const names = [
      `rate-limiter-full-${resultStamp('2026-12-07T06:44:00.000Z')}.json`,
      `rate-limiter-full-${second}.json`,
      'rate-limiter-full-20261207T0643.json',
      `rate-limiter-full-${first}.json`,
    ];
    expect([...names].sort()).toEqual([names[2], names[3], names[1], names[0]]);
  });
});
