import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpuAccount } from './cpu-usage.ts';
import { type Efficiency, efficiency, generatorBound, type LatencyThreshold } from './efficiency.ts';
import type { K6Result } from './k6.ts';
import type { MachineProfile } from './machine.ts';
import { DURABLE_COMMITS } from './processes.ts';

/** lean: warn logs and no tracing, as `pnpm load` ran before; stack: info logs and OTLP traces, as `pnpm stack up` and compose run. */
export type Config = 'lean' | 'stack';

export interface ThresholdedMetric {
  metric: string;
  p50?: number;
  p95?: number;
  p99?: number;
  thresholds: { expression: string; ok: boolean }[];
}

export interface Measure {
  metric: string;
  count?: number;
  rate?: number;
  avg?: number;
  p95?: number;
  max?: number;
}

/** One measured run of the service in one configuration. */
export interface VariantRun {
  config: Config;
  /** Where k6 and the service processes ran (taskset); absent when unpinned. */
  cores?: { service: string; k6: string };
  /** Arrivals per second k6 offered (requests, or messages sent for chat; setup included). */
  offeredPerS: number;
  /** Throughput in the service's unit per second (requests, decisions, messages, holds). */
  achievedPerS: number;
  primary: { metric: string; p50: number; p95: number; p99: number; threshold?: LatencyThreshold };
  metrics: ThresholdedMetric[];
  measures?: Measure[];
  errorRate: number;
  cpu: CpuAccount;
  cost: {
    /** HTTP requests (or delivered messages for chat) the run completed. */
    requests: number;
    /** Throughput units the run completed. */
    units: number;
    serviceMsPerRequest: number;
    serviceMsPerUnit: number;
    /** k6's own CPU per request: the generator's cost, against the bare run's k6 CPU per request. */
    k6MsPerRequest: number;
    /** The hot path's own process alone, where others share the run: its CPU per request it served. */
    hotProcess?: { name: string; served: string; requests: number; msPerRequest: number };
  };
  memory: { name: string; idleRssMb: number; loadedRssMb: number }[];
  /** Every fresh start of the service in this configuration, in order, when there were several (the fields above are the cheapest's). */
  starts?: ServiceStart[];
  /** False when any start broke a threshold. */
  passed: boolean;
}

/** One fresh start of the service's processes: its CPU per unit, p99 and thresholds. */
export interface ServiceStart {
  serviceMsPerUnit: number;
  hotProcessMsPerRequest?: number;
  p99: number;
  /** Share of the machine the hypervisor gave other guests during its measured run (absent before 2026-12-07 19:00). */
  machineSteal?: number;
  passed: boolean;
  /** The thresholds it broke (`metric expression`). */
  broke: string[];
}

/** The bare handler of the same shape, at the rate the service was offered, on the service's cores. */
export interface BareRun {
  shape: string;
  cores?: string;
  rate: number;
  achievedPerS: number;
  p50: number;
  p95: number;
  p99: number;
  /** The bare process's CPU per request (or per delivered message): the cheapest of the processes measured. */
  msPerRequest: number;
  /** Each bare process's CPU per request, in the order measured (absent in results from before 2026-12-06 20:40). */
  processesMsPerRequest?: number[];
  k6MsPerRequest: number;
  machineBusy: number;
  /** Share of the machine the hypervisor gave other guests while it was measured (absent before 2026-12-07 19:00). */
  machineSteal?: number;
  /** The same for each bare process, in the order measured. */
  processesMachineSteal?: number[];
  /** The bare process's main thread, runnable but without a core, per request (absent before 2026-12-07 09:00). */
  waitMsPerRequest?: number;
}

export interface CapacityStep {
  rate: number;
  held: boolean;
  achievedPerS: number;
  p99: number;
  bareP99: number;
  generatorBound: boolean;
  duration: string;
}

/** What a run says about one configuration: whose limit the rate was, and what the service costs. */
export interface Verdict {
  config: Config;
  /** The bare handler at this rate already spent more than half the threshold: the generator's limit. */
  generatorBound: boolean;
  bareP99: number;
  efficiency?: Efficiency;
  /** bare ÷ the hot path's own process per request (`cost.hotProcess`), beside the all-process ratio. */
  hotProcessRatio?: number;
}

export interface RunRecord {
  service: string;
  hotPath: string;
  profile: 'smoke' | 'full';
  date: string;
  commit: string;
  command: string;
  machine: MachineProfile;
  /** What the throughput counts (req/s unless the service says otherwise). */
  unit?: string;
  /** What an arrival is, when it is not one unit of throughput (a batch call of many checks). */
  rateUnit?: string;
  runs: VariantRun[];
  bare: BareRun[];
  verdicts: Verdict[];
  /** Raw Redis EVALSHA rate on the same machine, and the lean throughput as a share of it. */
  redisLimit?: { rps: number; command: string; ratio: number };
  capacity?: {
    highestHeldRps: number;
    steps: CapacityStep[];
    /** What ended the search: a broken threshold, the generator's limit, or the step count. */
    stoppedBy: 'threshold' | 'generator' | 'steps';
  };
  /** The documented fleet-wide throughput; absent for the kit alone, which has none. */
  documentedThroughput?: { value: number; source: string; text: string };
  passed: boolean;
}

/** The bare handler measured on the same cores as this configuration (the first one if none matches). */
export function bareFor(bares: readonly BareRun[], run: Pick<VariantRun, 'cores'>): BareRun | undefined {
  return bares.find((b) => b.cores === run.cores?.service) ?? bares[0];
}

/** Whose limit a run's rate was and what the service costs per request, against the bare run on the same cores. */
export function variantVerdict(run: VariantRun, bares: BareRun[], documentedPerS: number): Verdict {
  const bare = bareFor(bares, run);
  const bareP99 = bare?.p99 ?? 0;
  const bound = run.primary.threshold ? generatorBound(bareP99, run.primary.threshold) : false;
  const measurable =
    bare && bare.msPerRequest > 0 && run.cost.serviceMsPerRequest > 0 && run.cost.serviceMsPerUnit > 0;
  return {
    config: run.config,
    generatorBound: bound,
    bareP99,
    ...(measurable
      ? {
          efficiency: efficiency({
            serviceMsPerRequest: run.cost.serviceMsPerRequest,
            bareMsPerRequest: bare.msPerRequest,
            serviceMsPerUnit: run.cost.serviceMsPerUnit,
            documentedPerS,
          }),
        }
      : {}),
    ...(bare && bare.msPerRequest > 0 && (run.cost.hotProcess?.msPerRequest ?? 0) > 0
      ? { hotProcessRatio: bare.msPerRequest / run.cost.hotProcess!.msPerRequest }
      : {}),
  };
}

const fmt = (value: number | undefined, digits = 1) =>
  value === undefined ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: digits });
const num = (value: unknown) => (typeof value === 'number' ? value : undefined);

/**
 * What a threshold's own percentile measured, e.g. "p99 9.8 ms" for `p(99)<10`: printing p95 beside
 * a p99 threshold hides what the verdict was taken on. Undefined for non-percentile thresholds.
 */
export function thresholdObserved(metric: ThresholdedMetric, expression: string): string | undefined {
  const named = /^p\((\d+(?:\.\d+)?)\)/.exec(expression.trim())?.[1];
  if (named === undefined) return undefined;
  const value =
    named === '50' ? metric.p50 : named === '95' ? metric.p95 : named === '99' ? metric.p99 : undefined;
  return value === undefined ? undefined : `p${named} ${value.toFixed(1)} ms`;
}

export function summarise(result: K6Result, measureNames: string[] = []) {
  const measures: Measure[] = measureNames
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
  const metrics: ThresholdedMetric[] = Object.entries(result.metrics)
    // A `count>=0` threshold only exports a number (the setup count, lib/measured.js); it is not a target.
    .filter(([, m]) => Object.keys(m.thresholds ?? {}).some((expression) => expression !== 'count>=0'))
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

/**
 * A result file's time stamp from its record's ISO date, to the second (`20261207T064341`): two
 * runs in one minute (back-to-back closed loops) had the same name, and the second overwrote the
 * first. Names sort in time order, minute-stamped ones from before too.
 */
export function resultStamp(isoDate: string): string {
  return isoDate.replace(/[-:]/g, '').slice(0, 15);
}

export async function writeReport(
  dir: string,
  record: RunRecord,
): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${record.service}-${record.profile}-${resultStamp(record.date)}`);
  await writeFile(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(`${base}.md`, markdown(record));
  return { json: `${base}.json`, markdown: `${base}.md` };
}

const ms = (value: number | undefined) => (value === undefined ? '–' : `${value.toFixed(2)} ms`);
const cpuMs = (value: number) => (value > 0 ? `${(value * 1000).toFixed(1)} µs` : '–');
const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
/** The hypervisor's share of the machine while a process was measured: a sign of a contended host (the guest does not charge stolen time to the process). */
const steal = (share: number | undefined) =>
  share === undefined ? '' : `, steal ${(share * 100).toFixed(1)}%`;

/**
 * The run of the least `cost` among fresh processes (the bare handler's, the service's starts). A
 * run that counted nothing (cost 0) has no cost to compare and is taken only if every run is such.
 */
export function cheapestOf<T>(runs: readonly T[], cost: (run: T) => number): T {
  const counted = runs.filter((run) => cost(run) > 0);
  return (counted.length ? counted : runs).reduce((best, run) => (cost(run) < cost(best) ? run : best));
}

/**
 * The configuration's figure from its fresh starts: the cheapest in service CPU per unit, carrying
 * every start's CPU, p99 and verdict; it passes only if every start held every threshold.
 */
export function cheapestStart(starts: VariantRun[]): VariantRun {
  const cheapest = cheapestOf(starts, (run) => run.cost.serviceMsPerUnit);
  if (starts.length === 1) return cheapest;
  return {
    ...cheapest,
    starts: starts.map((run) => ({
      serviceMsPerUnit: run.cost.serviceMsPerUnit,
      ...(run.cost.hotProcess ? { hotProcessMsPerRequest: run.cost.hotProcess.msPerRequest } : {}),
      p99: run.primary.p99,
      ...(run.cpu.machineSteal !== undefined ? { machineSteal: run.cpu.machineSteal } : {}),
      passed: run.passed,
      broke: run.metrics.flatMap((m) =>
        m.thresholds.filter((t) => !t.ok).map((t) => `${m.metric} ${t.expression}`),
      ),
    })),
    passed: starts.every((run) => run.passed),
  };
}

/** The throughput's unit without `/s`, as a column names it: `req`, `holds`, `msg`, `decisions`. */
export function unitPlural(r: Pick<RunRecord, 'unit'>): string {
  return (r.unit ?? 'req/s').replace('/s', '');
}

/** One of the throughput's units, in a sentence: `a hold`, `a message`, `a request`. */
function unitWord(r: Pick<RunRecord, 'unit'>): string {
  return { 'msg/s': 'message', 'holds/s': 'hold', 'decisions/s': 'decision' }[r.unit ?? ''] ?? 'request';
}

/** The middle value of an odd count; undefined for an even one (no single middle). */
function middleOf(values: readonly number[]): number | undefined {
  if (values.length % 2 === 0) return undefined;
  return [...values].sort((a, b) => a - b)[(values.length - 1) / 2];
}

/**
 * Bare ÷ service as the table's efficiency, from the middle start and the bare handler's middle
 * process instead of the cheapest of each: on a shared machine one fast process on either side
 * moves the cheapest-against-cheapest ratio by 20 % or more (the kit: 0.79× and 0.82× by the
 * cheapest, 0.93× and 1.07× by the middle, in two runs). A start's figure is per unit; it is turned
 * into per request with the cheapest start's requests per unit (the scenario's fixed mix).
 */
export function middleRatio(r: Pick<RunRecord, 'bare'>, run: VariantRun): number | undefined {
  const bare = bareFor(r.bare, run);
  const bareMiddle = middleOf(bare?.processesMsPerRequest ?? []);
  const starts = (run.starts ?? []).map((s) => s.serviceMsPerUnit).filter((ms) => ms > 0);
  const startMiddle = starts.length >= 3 ? middleOf(starts) : undefined;
  if (!bareMiddle || !startMiddle || run.cost.serviceMsPerUnit <= 0) return undefined;
  const requestsPerUnit = run.cost.serviceMsPerUnit / run.cost.serviceMsPerRequest;
  return bareMiddle / (startMiddle / requestsPerUnit);
}

/** Each configuration's fresh starts of the service: what each cost, its p99, and its thresholds. */
function startLines(r: RunRecord): string[] {
  const unit = unitWord(r);
  const lines = r.runs
    .filter((run) => run.starts && run.starts.length > 1)
    .map((run) => {
      const each = run.starts!.map((start, i) => {
        const hot =
          start.hotProcessMsPerRequest !== undefined && run.cost.hotProcess
            ? ` (${run.cost.hotProcess.name} alone ${cpuMs(start.hotProcessMsPerRequest)})`
            : '';
        const verdict = start.passed ? 'thresholds held' : `**broke ${start.broke.join(', ') || 'k6 exit'}**`;
        return `start ${i + 1}: ${cpuMs(start.serviceMsPerUnit)} a ${unit}${hot}, p99 ${ms(start.p99)}${steal(start.machineSteal)}, ${verdict}`;
      });
      const middle = middleRatio(r, run);
      return `- ${run.config}: ${run.starts!.length} fresh starts of the service, the cheapest in the table (as the bare handler's), every start's thresholds in the verdict: ${each.join('; ')}.${
        middle === undefined
          ? ''
          : ` The middle start against the bare handler's middle process: ${middle.toFixed(2)}× (a check on the lottery of fresh processes; the table's figure is cheapest against cheapest).`
      }`;
    });
  return lines.length ? ['', ...lines] : [];
}

/**
 * Time each service process's main thread spent runnable without a core, per request of the run:
 * latency no CPU figure shows (on a shared machine, Redis woken by the service's own writes lands on
 * the service's core and takes it).
 */
function waitLine(r: RunRecord, run: VariantRun): string {
  const waits = run.cpu.processes.filter((p) => p.waitMs !== undefined);
  if (waits.length === 0 || run.cost.requests <= 0) return '';
  const perRequest = waits.map((p) => `${p.name} ${cpuMs(p.waitMs! / run.cost.requests)}`);
  // cost.requests is in the bare handler's sense: delivered messages for the chat's ws shape.
  return `; main thread waiting for its core, a ${r.unit === 'msg/s' ? 'delivered message' : 'request'}: ${perRequest.join(', ')}`;
}

function pinning(run: VariantRun): string {
  return run.cores ? `service ${run.cores.service} / k6 ${run.cores.k6}` : 'unpinned';
}

/** One sentence per configuration: whose limit the rate was. */
export function generatorLines(r: RunRecord): string[] {
  return r.runs.map((run, i) => {
    const v = r.verdicts[i]!;
    const threshold = run.primary.threshold;
    const bound = threshold
      ? `${threshold.ms / 2} ms (half of \`p(${threshold.percentile})<${threshold.ms}\`)`
      : 'half the threshold';
    return v.generatorBound
      ? `- **${run.config}: generator-bound.** The bare handler of the same shape had p99 ${ms(v.bareP99)} at this rate, above ${bound}: latency at this rate says more about k6 on this machine than about the service; read the efficiency, not the rate, as its capacity.`
      : `- ${run.config}: not generator-bound (the bare handler's p99 at this rate was ${ms(v.bareP99)}, under ${bound}).`;
  });
}

export function efficiencyRows(r: RunRecord): string[] {
  const unit = unitPlural(r);
  return [
    `| config | cores | completed /s | achieved (${r.unit ?? 'req/s'}) | p50 / p95 / p99 | bare p99 | generator-bound | service CPU per request | bare CPU per request | efficiency (bare ÷ service) | ${unit} per core | cores for ${r.documentedThroughput ? `${fmt(r.documentedThroughput.value, 0)}/s` : 'a documented figure'} | k6 CPU per request (bare run's) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.runs.map((run, i) => {
      const v = r.verdicts[i]!;
      const bare = bareFor(r.bare, run);
      const e = v.efficiency;
      return `| ${run.config} | ${pinning(run)} | ${fmt(run.offeredPerS, 0)} | ${fmt(run.achievedPerS, 0)} | ${run.primary.p50.toFixed(2)} / ${run.primary.p95.toFixed(2)} / ${run.primary.p99.toFixed(2)} ms | ${ms(v.bareP99)} | ${v.generatorBound ? '**yes**' : 'no'} | ${cpuMs(run.cost.serviceMsPerRequest)} | ${cpuMs(bare?.msPerRequest ?? 0)} | ${e ? `**${e.ratio.toFixed(2)}×**` : '–'} | ${e ? fmt(e.unitsPerCore, 0) : '–'} | ${e && r.documentedThroughput ? fmt(e.coresForDocumented, 1) : '–'} | ${cpuMs(run.cost.k6MsPerRequest)} (${cpuMs(bare?.k6MsPerRequest ?? 0)}) |`;
    }),
    ...r.runs.flatMap((run, i) => {
      const hot = run.cost.hotProcess;
      const ratio = r.verdicts[i]!.hotProcessRatio;
      if (!hot) return [];
      return [
        '',
        `- ${run.config}: the table counts every process's CPU over every request; ${hot.name} alone: ${cpuMs(hot.msPerRequest)} of its own CPU per request it served (${fmt(hot.requests, 0)} requests: ${hot.served}): **${ratio === undefined ? '–' : `${ratio.toFixed(2)}×`}** of the bare handler per request`,
      ];
    }),
  ];
}

export function markdown(r: RunRecord): string {
  const lean = r.runs.find((run) => run.config === 'lean');
  const stack = r.runs.find((run) => run.config === 'stack');
  const leanV = lean ? r.verdicts[r.runs.indexOf(lean)] : undefined;
  const stackV = stack ? r.verdicts[r.runs.indexOf(stack)] : undefined;
  return [
    `# ${r.service} — ${r.profile} run, ${r.date}`,
    '',
    `- commit \`${r.commit}\`; command \`${r.command}\``,
    `- machine: ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.cpuModel}; Node ${r.machine.node}; ${r.machine.k6}; Postgres commits durable (PGOPTIONS \`${process.env.PGOPTIONS ?? DURABLE_COMMITS}\` for the measured processes)`,
    `- hot path: ${r.hotPath}; throughput unit: ${r.unit ?? 'req/s'}${r.rateUnit ? `; an arrival is one of ${r.rateUnit}` : ''}`,
    `- bare handler of the same shape: ${r.bare.map((b) => `${b.shape} at ${fmt(b.rate, 0)}/s (${b.cores ? `cores ${b.cores}` : 'unpinned'}): p50 ${ms(b.p50)}, p95 ${ms(b.p95)}, p99 ${ms(b.p99)}, ${cpuMs(b.msPerRequest)} CPU per request${b.processesMsPerRequest && b.processesMsPerRequest.length > 1 ? ` (the cheapest of ${b.processesMsPerRequest.length} fresh processes: ${b.processesMsPerRequest.map((v, i) => `${cpuMs(v)}${b.processesMachineSteal ? ` (steal ${((b.processesMachineSteal[i] ?? 0) * 100).toFixed(1)}%)` : ''}`).join(', ')})` : ''}, machine ${pct(b.machineBusy)} busy${steal(b.machineSteal)}${b.waitMsPerRequest !== undefined ? `; its main thread waiting for its core ${cpuMs(b.waitMsPerRequest)} a request` : ''}`).join('; ')}`,
    ...(r.documentedThroughput
      ? [
          `- documented throughput ${fmt(r.documentedThroughput.value, 0)}/s (${r.documentedThroughput.text}, ${r.documentedThroughput.source}) is fleet-wide; "cores for" it is that figure over the service's ${r.unit ?? 'req/s'} per core of CPU`,
        ]
      : []),
    ...(r.redisLimit
      ? [
          `- raw Redis limit: ${r.redisLimit.rps.toFixed(0)} EVALSHA/s (\`${r.redisLimit.command}\`); the lean run's throughput is ${r.redisLimit.ratio.toFixed(3)}× of it`,
        ]
      : []),
    ...(lean && stack && leanV?.efficiency && stackV?.efficiency
      ? [
          `- the stack's configuration (info logs, traces exported) costs ${pct(1 - stackV.efficiency.unitsPerCore / leanV.efficiency.unitsPerCore)} of the lean ${r.unit ?? 'req/s'} per core (${fmt(leanV.efficiency.unitsPerCore, 0)} → ${fmt(stackV.efficiency.unitsPerCore, 0)})`,
        ]
      : []),
    `- verdict: ${r.passed ? 'every threshold held in every configuration' : '**a threshold broke**'}`,
    '',
    '## Efficiency: the capacity figure',
    '',
    'CPU time per request of all the service\'s processes (from /proc) against the bare handler of the same shape at the same rate on the same cores (the cheapest of three fresh bare processes: about one Node process in three starts on a slower path for its whole life); "per core" is what one core could serve if CPU were the only limit. These ratios hold between runs; absolute figures on a shared 2-core machine move by ±40 %.',
    '',
    ...efficiencyRows(r),
    '',
    ...generatorLines(r),
    ...startLines(r),
    '',
    '## Where the CPU and memory went',
    '',
    ...r.runs.flatMap((run) => [
      `- ${run.config} (${pinning(run)}), ${run.cpu.wallS.toFixed(0)} s: machine ${pct(run.cpu.machineBusy)} busy${steal(run.cpu.machineSteal)} on ${run.cpu.cores} cores; cores used: ${[
        ...(run.cpu.k6 ? [`k6 ${run.cpu.k6.cores.toFixed(2)}`] : []),
        ...run.cpu.processes.map((p) => `${p.name} ${p.cores.toFixed(2)}`),
      ].join(
        ', ',
      )}${waitLine(r, run)}; RSS idle → after the run: ${run.memory.map((m) => `${m.name} ${m.idleRssMb.toFixed(0)} → ${m.loadedRssMb.toFixed(0)} MB`).join(', ')}`,
    ]),
    '',
    '## Thresholds',
    '',
    '| config | metric | p50 | p95 | p99 | threshold | result |',
    '|---|---|---|---|---|---|---|',
    ...r.runs.flatMap((run) =>
      run.metrics.flatMap((m) =>
        m.thresholds.map(
          (t) =>
            `| ${run.config} | \`${m.metric}\` | ${ms(m.p50)} | ${ms(m.p95)} | ${ms(m.p99)} | \`${t.expression}\` | ${t.ok ? 'pass' : '**FAIL**'} |`,
        ),
      ),
    ),
    ...r.runs.map((run) => `\n${run.config}: error rate ${(run.errorRate * 100).toFixed(3)}%`),
    ...(r.runs.some((run) => run.measures?.length)
      ? [
          '',
          '| config | measure | count | per second | avg | p95 | max |',
          '|---|---|---|---|---|---|---|',
          ...r.runs.flatMap((run) =>
            (run.measures ?? []).map(
              (m) =>
                `| ${run.config} | \`${m.metric}\` | ${fmt(m.count)} | ${fmt(m.rate)} | ${fmt(m.avg)} | ${fmt(m.p95)} | ${fmt(m.max)} |`,
            ),
          ),
        ]
      : []),
    ...capacityLines(r),
    '',
  ].join('\n');
}

function capacityLines(r: RunRecord): string[] {
  const c = r.capacity;
  if (!c) return [];
  const ended = {
    threshold: 'a threshold broke (the bare handler held at that rate, so the service broke it)',
    generator:
      "the generator's limit: the bare handler of the same shape already spent more than half the threshold, so higher rates would measure k6, not the service",
    steps: 'it ran out of steps: every step held, so this is a lower bound (`--capacity-steps`)',
  }[c.stoppedBy];
  return [
    '',
    '## Capacity search',
    '',
    `Highest arrival rate that held every threshold below the generator's limit: **${c.highestHeldRps} ${r.rateUnit ?? r.unit ?? 'req/s'}**. The search stopped at ${ended}.`,
    '',
    `| rate (${r.rateUnit ?? r.unit ?? 'req/s'}) | run | completed per s (${r.unit ?? 'req/s'}) | service p99 | bare p99 | verdict |`,
    '|---|---|---|---|---|---|',
    ...c.steps.map(
      (s) =>
        `| ${s.rate} | ${s.duration} | ${s.achievedPerS.toFixed(0)} | ${ms(s.p99)} | ${ms(s.bareP99)} | ${s.generatorBound ? 'generator-bound' : s.held ? 'held' : 'broke'} |`,
    ),
  ];
}
