// `pnpm load:table [file.json ...]`: the README's results table, built from full result files (by
// default the newest full run of each target in results/), so no figure is typed twice.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ClosedLoopRecord } from './batch-closed-loop.ts';
import type { DrainRecord } from './click-drain.ts';
import { bareFor, type RunRecord, unitPlural } from './report.ts';
import { REPO_ROOT } from './services.ts';

const RESULTS = join(REPO_ROOT, 'loadtests/results');

type Recorded = RunRecord | DrainRecord | ClosedLoopRecord;

const n = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits });
const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;

/** The newest full result of each target (a batch run counts as its own target). */
function newestFiles(): string[] {
  const newest = new Map<string, string>();
  for (const file of readdirSync(RESULTS)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const record = JSON.parse(readFileSync(join(RESULTS, file), 'utf8')) as Recorded;
    if (!('runs' in record) && record.profile !== 'drain' && record.profile !== 'closed-loop') continue; // the old format
    const batch = 'runs' in record && record.rateUnit ? ' batch' : '';
    newest.set(`${record.service}${batch}-${record.profile}`, file);
  }
  return [...newest.values()];
}

/** All processes against the bare handler, and the hot path's own process alone where others share the run. */
function efficiencyCell(
  all: number | undefined,
  hotName: string | undefined,
  hot: number | undefined,
): string {
  if (all === undefined) return '–';
  const alone = hotName && hot !== undefined ? `; ${hotName} alone **${hot.toFixed(2)}×**` : '';
  return `**${all.toFixed(2)}×** all processes${alone}`;
}

export function efficiencyTable(records: { file: string; record: RunRecord }[]): string[] {
  return [
    '| target | hot path | config | rate | p99 (bare p99) | generator-bound | CPU per request: service (bare) | efficiency | per core | cores for the documented figure | RSS idle → loaded | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...records.flatMap(({ file, record: r }) =>
      r.runs.map((run, i) => {
        const v = r.verdicts[i]!;
        const bare = bareFor(r.bare, run);
        const e = v.efficiency;
        const unit = unitPlural(r);
        const memory = run.memory.map((m) => `${n(m.idleRssMb)} → ${n(m.loadedRssMb)} MB`).join(', ');
        return [
          r.service,
          r.hotPath,
          `${run.config}${run.cores ? '' : ' (unpinned)'}`,
          `${n(run.achievedPerS)} ${r.unit ?? 'req/s'}`,
          `${run.primary.p99.toFixed(1)} ms (${v.bareP99.toFixed(1)} ms)`,
          v.generatorBound ? '**yes**' : 'no',
          `${us(run.cost.serviceMsPerRequest)} (${us(bare?.msPerRequest ?? 0)})`,
          efficiencyCell(e?.ratio, run.cost.hotProcess?.name, v.hotProcessRatio),
          e ? `${n(e.unitsPerCore)} ${unit}` : '–',
          e && r.documentedThroughput
            ? `${n(e.coresForDocumented, 1)} for ${n(r.documentedThroughput.value)}/s`
            : '–',
          memory,
          `[${basename(file, '.json')}](results/${basename(file, '.json')}.md)`,
        ]
          .join(' | ')
          .replace(/^/, '| ')
          .concat(' |');
      }),
    ),
  ];
}

export function drainTable(records: { file: string; record: DrainRecord }[]): string[] {
  return [
    '| path | figure | exact | CPU while draining | bottleneck (measured) | result |',
    '|---|---|---|---|---|---|',
    ...records.map(
      ({ file, record: r }) =>
        `| one aggregator worker draining ${n(r.clicks)} preloaded clicks | **${n(r.drain.perS)} clicks/s** (${us(r.workerMsPerClick)} of worker CPU per click) | ${r.drain.exact ? 'yes' : '**no**'} | worker ${r.cores.worker.toFixed(2)}, Postgres ${r.cores.postgres.toFixed(2)}, Kafka ${r.cores.kafka.toFixed(2)} cores; machine ${(r.cores.machineBusy * 100).toFixed(0)} % busy | ${r.bottleneck} | [${basename(file, '.json')}](results/${basename(file, '.json')}.md) |`,
    ),
  ];
}

export function closedLoopTable(records: { file: string; record: ClosedLoopRecord }[]): string[] {
  const us = (v: number) => `${v.toFixed(1)} µs`;
  return [
    '| path | figure | every decision from Redis | CPU per decision: service, Redis, generator | bottleneck (measured) | result |',
    '|---|---|---|---|---|---|',
    ...records.map(
      ({ file, record: r }) =>
        `| limiter, batches of ${r.batchSize}, closed loop (${r.connections} connections) | **${n(r.decisionsPerS)} decisions/s**, p99 ${r.callLatencyMs.p99.toFixed(1)} ms per call | ${r.badCalls === 0 ? 'yes' : `**no** (${n(r.badCalls)} calls)`} | ${us(r.usPerDecision.service)}, ${us(r.usPerDecision.redis)}, ${us(r.usPerDecision.generator)}; machine ${(r.cores.machineBusy * 100).toFixed(0)} % busy | ${r.bottleneck} | [${basename(file, '.json')}](results/${basename(file, '.json')}.md) |`,
    ),
  ];
}

function main(): void {
  const files = process.argv.slice(2).length ? process.argv.slice(2) : newestFiles();
  const runs: { file: string; record: RunRecord }[] = [];
  const drains: { file: string; record: DrainRecord }[] = [];
  const loops: { file: string; record: ClosedLoopRecord }[] = [];
  for (const file of files) {
    const path = file.includes('/') ? file : join(RESULTS, file);
    const record = JSON.parse(readFileSync(path, 'utf8')) as Recorded;
    if ('runs' in record) runs.push({ file, record });
    else if (record.profile === 'drain') drains.push({ file, record });
    else loops.push({ file, record });
  }
  const lines = [
    ...efficiencyTable(runs),
    ...(loops.length ? ['', ...closedLoopTable(loops)] : []),
    ...(drains.length ? ['', ...drainTable(drains)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.main) main();
