import { describe, expect, it } from 'vitest';
import type { K6Result } from '../src/k6.ts';
import { cpuLines, markdown, type RunRecord, summarise } from '../src/report.ts';

const k6Result: K6Result = {
  exitCode: 99,
  output: '',
  cpuMs: 0,
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

  it('renders a table row per threshold with pass or FAIL, and the machine and commit', () => {
    const { metrics, errorRate } = summarise(k6Result);
    const record: RunRecord = {
      service: 'url-shortener',
      profile: 'smoke',
      date: '2026-11-22T12:00:00.000Z',
      commit: 'abc1234',
      command: 'pnpm load url-shortener --profile smoke',
      machine: { cores: 2, memoryGiB: 23.4, cpuModel: 'Test CPU', node: 'v24.21.0', k6: 'k6 v1.8.1' },
      achievedRps: 99.8,
      metrics,
      errorRate,
      limit: { path: 'bare Fastify handler', achievedRps: 100, p50: 0.5, p95: 1, p99: 2 },
      latencyRatio: 4.25,
      documentedThroughput: { value: 10000, source: '[002:165]', text: '~10K redirects/s' },
      instancesNeeded: 101,
      passed: false,
    };
    const text = markdown(record);
    expect(text).toContain(
      '| `http_req_duration{scenario:redirects}` | 1.50 ms | 4.25 ms | 9.75 ms | `p(95)<50` | pass |',
    );
    expect(text).toContain(
      '| `http_req_duration{scenario:creates}` | 3.00 ms | 120.00 ms | 140.00 ms | `p(95)<100` | **FAIL** |',
    );
    expect(text).toContain('2 cores, 23.4 GiB, Test CPU');
    expect(text).toContain('commit `abc1234`');
    expect(text).toContain('needs **101** instance(s)');
    expect(text).toContain('**a threshold broke**');
    expect(cpuLines(record)).toEqual([]);
  });

  it('names a batch arrival rate apart from the decisions it carries, and says when every step held', () => {
    const record = {
      service: 'rate-limiter',
      profile: 'full',
      date: '2026-11-22T18:33:00.000Z',
      commit: 'abc1234',
      command: 'pnpm load rate-limiter --profile full --batch 20 --capacity',
      machine: { cores: 2, memoryGiB: 23.4, cpuModel: 'Test CPU', node: 'v24.21.0', k6: 'k6 v1.8.1' },
      achievedRps: 3600,
      unit: 'decisions/s',
      rateUnit: 'batch calls/s (20 checks each)',
      metrics: [],
      errorRate: 0,
      limit: { path: 'bare Fastify handler', achievedRps: 180, p50: 0.5, p95: 1, p99: 2 },
      latencyRatio: 2,
      capacity: {
        highestHeldRps: 180,
        steps: [
          { rate: 120, held: true, achievedRps: 2400, duration: '20s' },
          { rate: 180, held: true, achievedRps: 3600, duration: '20s' },
          { rate: 180, held: true, achievedRps: 3600, duration: 'full' },
        ],
      },
      documentedThroughput: { value: 100000, source: '[002:482]', text: '~100K checks/s' },
      instancesNeeded: 28,
      passed: true,
    } satisfies RunRecord;
    const text = markdown(record);
    expect(text).toContain('full-length run: **180 batch calls/s (20 checks each)**');
    expect(text).toContain(
      '| rate (batch calls/s (20 checks each)) | run | completed per s, setup included (decisions/s) | held |',
    );
    expect(text).toContain('Every step held');
    expect(text).toContain('completed 3600.0 decisions/s');
    const broken = {
      ...record,
      capacity: {
        ...record.capacity,
        steps: [{ rate: 270, held: false, achievedRps: 0, duration: '20s' }, ...record.capacity.steps],
      },
    };
    expect(markdown(broken)).not.toContain('Every step held');
  });

  it('says where the CPU went and what one request cost the service', () => {
    const record = {
      cpu: {
        wallS: 180.2,
        cores: 2,
        machineBusy: 0.934,
        k6: { cores: 1.02, cpuMs: 183_800 },
        processes: [{ name: 'rate-limiter', cores: 0.25, cpuMs: 45_000 }],
        msPerRequest: 0.3704,
      },
    } as RunRecord;
    expect(cpuLines(record)).toEqual([
      '- CPU over the measured run (180 s): machine 93% busy on 2 cores; cores used: k6 1.02, rate-limiter 0.25',
      '- service CPU per request: 0.370 ms (derived, not measured: one core could serve ~2,699 req/s if CPU were the only limit)',
    ]);
  });
});
