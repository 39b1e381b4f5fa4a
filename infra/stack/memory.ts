// `pnpm mem [--config lean|stack|both] [--from dist|source] [--settle 15] [--only name,...]
// [--node-arg=--heapsnapshot-signal=SIGUSR2 ...] [--load 20s [--rate N]]`:
// every Node process of the compose stack (plus the kit's empty service), started the way the
// images run it (built JS from dist/, `--import @sdlab/service-kit/instrument`, compose's
// NODE_OPTIONS and environment), left idle, then its VmRSS and VmHWM read and printed as a table
// beside its compose mem_limit (issue 16: under 150 MB idle). `lean` is LOG_LEVEL=warn without an
// OTLP endpoint, as `pnpm load` runs; `stack` is compose's own environment: info logs, traces to
// Jaeger. The processes run on ports of their own (the stack's + 2000), a database, topics,
// consumer groups, Redis prefixes and a search index of their own, so a `pnpm stack up` or
// `pnpm load` beside it is neither disturbed nor measured.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  createTestDatabase,
  dropTestDatabase,
  type Endpoints,
  resolveEndpoints,
  runDir,
  uniqueId,
} from '@sdlab/testkit/infra';
import { readComposeSources, serviceMemoryLimits } from '../compose/validate-compose.ts';
import { type NativeEndpoints, type PlannedProcess, planFromCompose, shiftPorts } from './plan.ts';
import { type ProcessMemory, readProcessMemory } from './process-memory.ts';
import { readyStatus } from './processes.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Away from the stack's 8081-8093 and 9481-9485, which `pnpm stack` and `pnpm load` use. */
export const PORT_OFFSET = 2000;
/** The kit alone: an empty route on createService() (loadtests/limits/kit-empty.ts). */
const KIT_EMPTY: PlannedProcess = {
  name: 'kit-empty',
  dir: 'loadtests',
  entry: 'limits/kit-empty.ts',
  port: 8089 + PORT_OFFSET,
  // Not in compose; the young generation as `pnpm load` and every image size it.
  env: { NODE_OPTIONS: '--max-semi-space-size=8', SDLAB_DEV_MODE: 'true' },
  dependsOn: [],
};

export type Config = 'lean' | 'stack';
export type From = 'dist' | 'source';

export interface MeasureOptions {
  configs: Config[];
  from: From;
  /** Seconds to leave every process idle after the last one is ready. */
  settleS: number;
  /** Compose service names (and `kit-empty`); all when empty. */
  only: string[];
  /** More node flags before the entry, e.g. `--heapsnapshot-signal=SIGUSR2` to look inside. */
  nodeArgs?: string[];
  /**
   * After the idle reading, each service's k6 scenario (smoke profile) for this long, e.g. `20s`,
   * one service after another with every process still up; then RSS and VmHWM again.
   */
  loadDuration?: string;
  /** The scenarios' arrival rate over their smoke default. */
  rate?: string;
  /** Added to every compose port (PORT_OFFSET by default); tests take ports of their own. */
  portOffset?: number;
  /** The real servers; the running native stack's when absent. */
  endpoints?: Endpoints;
  log?: (line: string) => void;
}

export interface MemoryRow {
  name: string;
  /** compose mem_limit in MiB, when the process is a compose service. */
  limitMb?: number;
  idle: Partial<Record<Config, ProcessMemory>>;
  /** After the load (VmHWM: the peak since start, start-up and load included). */
  loaded: Partial<Record<Config, ProcessMemory>>;
}

/**
 * Starts the processes of each configuration in turn, lets them idle, reads their memory and
 * stops them. Throws when a process fails to become ready (its log's tail in the message).
 */
export async function measureMemory(options: MeasureOptions): Promise<MemoryRow[]> {
  const log = options.log ?? (() => {});
  const servers = options.endpoints ?? (await resolveEndpoints()).endpoints;
  const native: NativeEndpoints = {
    postgres: servers.postgres,
    redis: servers.redis,
    kafka: servers.kafka.join(','),
    elasticsearch: servers.elasticsearch,
    ...(servers.otlp ? { otlp: servers.otlp } : {}),
  };
  const run = `mem_${uniqueId()}`.replaceAll('-', '_');
  const offset = options.portOffset ?? PORT_OFFSET;
  const kit = { ...KIT_EMPTY, port: KIT_EMPTY.port - PORT_OFFSET + offset };
  const plan = [...shiftPorts(planFromCompose(REPO_ROOT, native, run), offset), kit].filter(
    (p) => options.only.length === 0 || options.only.includes(p.name),
  );
  if (plan.length === 0) throw new Error(`mem: no process named ${options.only.join(', ')}`);
  const limits = serviceMemoryLimits(await readComposeSources(join(REPO_ROOT, 'docker-compose.yml')));
  const rows: MemoryRow[] = plan.map((p) => ({
    name: p.name,
    ...(limits.has(p.name) ? { limitMb: limits.get(p.name)! / 2 ** 20 } : {}),
    idle: {},
    loaded: {},
  }));
  const needsDatabase = plan.some((p) => p.env.DATABASE_URL);
  if (needsDatabase) await createTestDatabase(native.postgres, run);
  const logDir = join(runDir(), 'mem');
  mkdirSync(logDir, { recursive: true });
  try {
    for (const config of options.configs) {
      const running: { p: PlannedProcess; child: ChildProcess }[] = [];
      try {
        for (const p of plan) {
          const logFile = join(logDir, `${p.name}-${config}.log`);
          const child = startProcess(p, config, options, isolation(run, p), native.otlp, logFile);
          running.push({ p, child });
          await waitReady(p, child, logFile);
          log(`[${config}] ${p.name} ready on :${p.port} (pid ${child.pid})`);
        }
        log(`[${config}] all ready; idle for ${options.settleS} s`);
        await new Promise((resolve) => setTimeout(resolve, options.settleS * 1000));
        for (const [i, { child }] of running.entries()) {
          const memory = readProcessMemory(child.pid!);
          if (!memory) throw new Error(`mem: ${plan[i]!.name} exited while idle`);
          rows[i]!.idle[config] = memory;
        }
        if (options.loadDuration) {
          if (!servers.k6) throw new Error('mem: --load needs k6 (endpoints.json names none)');
          await loadEach(plan, servers.k6, options.loadDuration, options.rate, (line) =>
            log(`[${config}] ${line}`),
          );
          for (const [i, { child }] of running.entries()) {
            const memory = readProcessMemory(child.pid!);
            if (!memory) throw new Error(`mem: ${plan[i]!.name} exited under load (OOM?)`);
            rows[i]!.loaded[config] = memory;
          }
        }
      } finally {
        for (const { child } of running.reverse()) await stop(child);
      }
    }
  } finally {
    if (needsDatabase) await dropTestDatabase(native.postgres, run).catch(() => undefined);
    if (native.elasticsearch) {
      await fetch(`${native.elasticsearch}/${run.replaceAll('_', '-')}-booking-events`, {
        method: 'DELETE',
      }).catch(() => undefined);
    }
  }
  return rows;
}

/**
 * Each planned service's k6 scenario (the ones `pnpm load` runs), against this run's ports: the
 * API, a second chat gateway, the ad-click worker's metrics.
 */
async function loadEach(
  plan: PlannedProcess[],
  k6: string,
  duration: string,
  rate: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const { SERVICES, scenarioPath } = await import('../../loadtests/src/services.ts');
  const { runK6 } = await import('../../loadtests/src/k6.ts');
  const url = (name: string) => {
    const p = plan.find((q) => q.name === name);
    return p ? `http://127.0.0.1:${p.port}` : undefined;
  };
  for (const service of SERVICES) {
    const base = url(service.name);
    if (!base) continue;
    const env: Record<string, string> = {
      ...service.k6Env,
      BASE_URL: base,
      PROFILE: 'smoke',
      DURATION: duration,
      ...(rate ? { RATE: rate } : {}),
    };
    if (service.k6Env?.BASE_URL_2) env.BASE_URL_2 = url(`${service.name}-2`) ?? base;
    const worker = url(`${service.name}-worker`);
    if (worker) env.WORKER_URL = worker;
    const result = await runK6(k6, scenarioPath(service), env);
    const failed = result.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression}`);
    log(
      `${service.name}: k6 exit ${result.exitCode}` +
        (failed.length > 0 ? `, thresholds broken: ${failed.join('; ')}` : ', thresholds held'),
    );
  }
}

/** Topics, consumer groups, Redis prefixes and a search index of this run alone. */
function isolation(run: string, p: PlannedProcess): Record<string, string> {
  const prefix = run.replaceAll('_', '-');
  return {
    CLICKS_TOPIC: `${prefix}.clicks`,
    DEAD_LETTER_TOPIC: `${prefix}.clicks.dead-letter`,
    CONSUMER_GROUP: `${prefix}-aggregator`,
    STATS_GROUP_ID: `${prefix}-stats`,
    // One per service folder: the two chat gateways, and an API and its worker, share their keys.
    REDIS_KEY_PREFIX: `${prefix}:${basename(p.dir)}:`,
    SEARCH_INDEX: `${prefix}-booking-events`,
  };
}

function startProcess(
  p: PlannedProcess,
  config: Config,
  { from, nodeArgs = [] }: Pick<MeasureOptions, 'from' | 'nodeArgs'>,
  isolated: Record<string, string>,
  otlp: string | undefined,
  logFile: string,
): ChildProcess {
  const env: Record<string, string | undefined> = {
    ...process.env,
    // The images' own setting (Dockerfile ENV); compose's environment follows.
    NODE_ENV: 'production',
    ...p.env,
    ...isolated,
    PORT: String(p.port),
  };
  if (config === 'lean') {
    env.LOG_LEVEL = 'warn';
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  } else {
    // compose gives every service the collector; the kit's empty service gets the same.
    env.OTEL_EXPORTER_OTLP_ENDPOINT ??= otlp;
    if (!env.OTEL_EXPORTER_OTLP_ENDPOINT)
      throw new Error('mem: the stack configuration needs an OTLP endpoint (Jaeger) in endpoints.json');
  }
  const entry = from === 'dist' ? builtEntry(p) : p.entry;
  const args = [
    ...(from === 'source' ? ['--conditions=@sdlab/source'] : []),
    ...nodeArgs,
    '--import',
    '@sdlab/service-kit/instrument',
    entry,
  ];
  const out = openSync(logFile, 'w');
  try {
    return spawn(process.execPath, args, {
      cwd: join(REPO_ROOT, p.dir),
      env,
      stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
}

/**
 * `src/main.ts` -> `dist/main.js`, as the images run it. The kit's empty service has no image or
 * build: its one file is stripped of types here, so it runs as JavaScript too (Node's own type
 * stripping costs ~17 MB the images do not pay) with the kit and its dependencies from dist/.
 */
function builtEntry(p: PlannedProcess): string {
  const dir = join(REPO_ROOT, p.dir);
  if (p.name === KIT_EMPTY.name) {
    const source = readFileSync(join(dir, p.entry), 'utf8');
    mkdirSync(join(dir, 'dist'), { recursive: true });
    const out = join('dist', 'kit-empty.mjs');
    writeFileSync(join(dir, out), stripTypeScriptTypes(source));
    return out;
  }
  const built = p.entry.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js');
  if (!existsSync(join(dir, built)))
    throw new Error(`mem: ${p.dir}/${built} is missing; run \`pnpm build\` first (or --from source)`);
  return built;
}

async function waitReady(p: PlannedProcess, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while ((await readyStatus(p.port)) !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`mem: ${p.name} did not become ready on :${p.port}; last log lines:\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

const mb = (m: ProcessMemory | undefined) => (m ? `${Math.round(m.rssMb)} (${Math.round(m.hwmMb)})` : '–');

/** A markdown table: RSS (high-water mark) per configuration, idle and after load, and the limit. */
export function memoryTable(rows: MemoryRow[], configs: Config[]): string {
  const loaded = rows.some((r) => Object.keys(r.loaded).length > 0);
  const columns = configs.flatMap((c) => [
    [`${c} idle: RSS (HWM)`, (r: MemoryRow) => mb(r.idle[c])] as const,
    ...(loaded ? [[`${c} after load: RSS (HWM)`, (r: MemoryRow) => mb(r.loaded[c])] as const] : []),
  ]);
  const head = `| process (MiB) | ${columns.map(([title]) => title).join(' | ')} | mem_limit |`;
  const rule = `|---|${columns.map(() => '---|').join('')}---|`;
  const lines = rows.map(
    (r) => `| ${r.name} | ${columns.map(([, cell]) => cell(r)).join(' | ')} | ${r.limitMb ?? '–'} |`,
  );
  return [head, rule, ...lines].join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'both' },
      from: { type: 'string', default: 'dist' },
      settle: { type: 'string', default: '15' },
      only: { type: 'string', default: '' },
      'node-arg': { type: 'string', multiple: true, default: [] },
      load: { type: 'string' },
      rate: { type: 'string' },
    },
  });
  const configs: Config[] =
    values.config === 'both' ? ['lean', 'stack'] : values.config === 'stack' ? ['stack'] : ['lean'];
  const from: From = values.from === 'source' ? 'source' : 'dist';
  const settleS = Number(values.settle);
  const rows = await measureMemory({
    configs,
    from,
    settleS,
    only: values.only ? values.only.split(',') : [],
    nodeArgs: values['node-arg'],
    ...(values.load ? { loadDuration: values.load } : {}),
    ...(values.rate ? { rate: values.rate } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(
    `Idle memory, ${from === 'dist' ? 'built JS (dist/) as the images run it' : 'from source (type stripping)'}, ` +
      `${settleS} s after the last process was ready` +
      (values.load
        ? `; then each service's k6 smoke scenario for ${values.load}${values.rate ? ` at ${values.rate}/s` : ''}`
        : '') +
      `; ${new Date().toISOString()}\n\n` +
      `${memoryTable(rows, configs)}\n`,
  );
}
