import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpuAccount } from './cpu-usage.ts';
import type { K6Result } from './k6.ts';
import type { MachineProfile } from './machine.ts';

export interface RunRecord {
  service: string;
  profile: 'smoke' | 'full';
  date: string;
  commit: string;
  command: string;
  machine: MachineProfile;
  /** Requests per second k6 completed against the service (all of its scenarios). */
  achievedRps: number;
  /** Per k6 metric that has thresholds: its percentiles and each threshold's verdict. */
  metrics: {
    metric: string;
    p50?: number;
    p95?: number;
    p99?: number;
    thresholds: { expression: string; ok: boolean }[];
  }[];
  errorRate: number;
  /** The scenario's own measures beside the thresholds (deliveries, purchases, lag, memory). */
  measures?: { metric: string; count?: number; rate?: number; avg?: number; p95?: number; max?: number }[];
  limit: { path: string; achievedRps: number; p50: number; p95: number; p99: number };
  /** Raw Redis EVALSHA rate on the same machine, and the service's throughput as a share of it. */
  redisLimit?: { rps: number; command: string; ratio: number };
  /** Service p95 over the bare handler's p95 at the same arrival rate. */
  latencyRatio: number;
  /** Where the measured run's CPU went: the machine, k6, each service process. */
  cpu?: CpuAccount & { msPerRequest?: number };
  /** What the arrival rate and throughput count (req/s unless the service says otherwise). */
  unit?: string;
  /** What an arrival is, when it is not one unit of throughput (a batch call of many checks). */
  rateUnit?: string;
  capacity?: {
    highestHeldRps: number;
    /** Search steps run 20 s; the last ones ('full') are the full-length confirmation runs. */
    steps: { rate: number; held: boolean; achievedRps: number; duration?: string }[];
    ratioToLimit?: number;
  };
  documentedThroughput: { value: number; source: string; text: string };
  instancesNeeded: number;
  passed: boolean;
}

const fmt = (value: number | undefined) =>
  value === undefined ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: 1 });
const num = (value: unknown) => (typeof value === 'number' ? value : undefined);

export function summarise(result: K6Result, measureNames: string[] = []) {
  const measures = measureNames
    .filter((name) => result.metrics[name])
    .map((metric) => {
      const m = result.metrics[metric]!;
      return {
        metric,
        count: num(m.count),
        rate: num(m.rate),
        avg: num(m.avg),
        p95: num(m['p(95)']),
        max: num(m.max),
      };
    });
  const metrics = Object.entries(result.metrics)
    .filter(([, m]) => m.thresholds && Object.keys(m.thresholds).length > 0)
    .map(([metric, m]) => ({
      metric,
      p50: num(m['p(50)']),
      p95: num(m['p(95)']),
      p99: num(m['p(99)']),
      thresholds: result.thresholds
        .filter((t) => t.metric === metric)
        .map(({ expression, ok }) => ({ expression, ok })),
    }));
  const failed = result.metrics.http_req_failed;
  return { metrics, measures, errorRate: num(failed?.value) ?? num(failed?.rate) ?? 0 };
}

export async function writeReport(
  dir: string,
  record: RunRecord,
): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = record.date.replace(/[-:]/g, '').slice(0, 13);
  const base = join(dir, `${record.service}-${record.profile}-${stamp}`);
  await writeFile(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(`${base}.md`, markdown(record));
  return { json: `${base}.json`, markdown: `${base}.md` };
}

const ms = (value: number | undefined) => (value === undefined ? '–' : `${value.toFixed(2)} ms`);

export function markdown(r: RunRecord): string {
  const rows = r.metrics.flatMap((m) =>
    m.thresholds.map(
      (t) =>
        `| \`${m.metric}\` | ${ms(m.p50)} | ${ms(m.p95)} | ${ms(m.p99)} | \`${t.expression}\` | ${t.ok ? 'pass' : '**FAIL**'} |`,
    ),
  );
  const capacity = r.capacity
    ? [
        '',
        `Capacity search: highest arrival rate that held every threshold for a full-length run: **${r.capacity.highestHeldRps} ${r.rateUnit ?? r.unit ?? 'req/s'}**` +
          (r.capacity.ratioToLimit ? ` (${r.capacity.ratioToLimit.toFixed(2)}× the bare handler's)` : ''),
        ...(r.capacity.steps.filter((st) => st.duration !== 'full').every((st) => st.held)
          ? [
              '',
              'Every step held: the search ran out of steps, so this is a lower bound (`--capacity-steps`).',
            ]
          : []),
        '',
        `| rate (${r.rateUnit ?? r.unit ?? 'req/s'}) | run | completed per s, setup included (${r.unit ?? 'req/s'}) | held |`,
        '|---|---|---|---|',
        ...r.capacity.steps.map(
          (s) =>
            `| ${s.rate} | ${s.duration === 'full' ? 'full length' : (s.duration ?? '20s')} | ${s.achievedRps.toFixed(0)} | ${s.held ? 'yes' : 'no'} |`,
        ),
      ]
    : [];
  return [
    `# ${r.service} — ${r.profile} run, ${r.date}`,
    '',
    `- commit \`${r.commit}\`; command \`${r.command}\``,
    `- machine: ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.cpuModel}; Node ${r.machine.node}; ${r.machine.k6}`,
    `- completed ${r.achievedRps.toFixed(1)} ${r.unit ?? 'req/s'} against the service (over the whole k6 run, setup included); error rate ${(r.errorRate * 100).toFixed(3)}%`,
    `- limit (${r.limit.path}) at the same rate: p50 ${ms(r.limit.p50)}, p95 ${ms(r.limit.p95)}, p99 ${ms(r.limit.p99)}; service p95 / limit p95 = ${r.latencyRatio.toFixed(2)}`,
    ...(r.redisLimit
      ? [
          `- raw Redis limit: ${r.redisLimit.rps.toFixed(0)} EVALSHA/s (\`${r.redisLimit.command}\`); the service's throughput is ${r.redisLimit.ratio.toFixed(3)}× of it`,
        ]
      : []),
    `- documented throughput ${r.documentedThroughput.value}/s (${r.documentedThroughput.text}, ${r.documentedThroughput.source}) needs **${r.instancesNeeded}** instance(s) at the rate this run held on this machine`,
    ...cpuLines(r),
    `- verdict: ${r.passed ? 'every threshold held' : '**a threshold broke**'}`,
    '',
    '| metric | p50 | p95 | p99 | threshold | result |',
    '|---|---|---|---|---|---|',
    ...rows,
    ...(r.measures?.length
      ? [
          '',
          '| measure | count | per second | avg | p95 | max |',
          '|---|---|---|---|---|---|',
          ...r.measures.map(
            (m) =>
              `| \`${m.metric}\` | ${fmt(m.count)} | ${fmt(m.rate)} | ${fmt(m.avg)} | ${fmt(m.p95)} | ${fmt(m.max)} |`,
          ),
        ]
      : []),
    ...capacity,
    '',
  ].join('\n');
}

const pct = (share: number) => `${(share * 100).toFixed(0)}%`;

/** k6 shares the cores with the services: who used what says whose limit a broken rate was. */
export function cpuLines(r: RunRecord): string[] {
  const cpu = r.cpu;
  if (!cpu) return [];
  const parts = [
    ...(cpu.k6 ? [`k6 ${cpu.k6.cores.toFixed(2)}`] : []),
    ...cpu.processes.map((p) => `${p.name} ${p.cores.toFixed(2)}`),
  ];
  const lines = [
    `- CPU over the measured run (${cpu.wallS.toFixed(0)} s): machine ${pct(cpu.machineBusy)} busy on ${cpu.cores} cores; cores used: ${parts.join(', ')}`,
  ];
  if (cpu.msPerRequest !== undefined && cpu.msPerRequest > 0) {
    lines.push(
      `- service CPU per request: ${cpu.msPerRequest.toFixed(3)} ms (derived, not measured: one core could serve ~${fmt(Math.floor(1000 / cpu.msPerRequest))} req/s if CPU were the only limit)`,
    );
  }
  return lines;
}
