// `pnpm load rate-limiter --batch N --closed-loop C`: how many decisions one rate-limiter instance
// makes when the generator does not pace it. C connections each keep one POST /v1/checks/batch of
// N checks in flight; the next call goes out when the answer comes back. k6's arrival-rate runs
// say what latency a given rate gets; this says where the ceiling is and which part hit it: the
// service's CPU, Redis's, or the generator's own (this process), each measured from /proc.

import http from 'node:http';
import { availableParallelism } from 'node:os';
import { machineCpuMs, processCpuMs, processRssMb, serverCpuMs } from './cpu-usage.ts';
import { percentile } from './efficiency.ts';
import { commit, machineProfile } from './machine.ts';

export interface ClosedLoopRecord {
  service: 'rate-limiter';
  profile: 'closed-loop';
  date: string;
  commit: string;
  command: string;
  machine: ReturnType<typeof machineProfile>;
  connections: number;
  batchSize: number;
  seconds: number;
  decisionsPerS: number;
  callsPerS: number;
  /** Calls that were not answered 200 with one Redis decision per check. */
  badCalls: number;
  callLatencyMs: { p50: number; p95: number; p99: number };
  cores: { machineBusy: number; service: number; redis: number; generator: number };
  /** CPU per decision, µs, of each part. */
  usPerDecision: { service: number; redis: number; generator: number };
  serviceRssMb: number;
  bottleneck: string;
  passed: boolean;
}

const BODY_POOL = 64;
const KEY_SPACE = 100_000;
const WARM_UP_S = 3;

/** Bodies of Zipf-like keys (a few hot ones), built once so the generator spends nothing per call. */
function bodies(size: number, run: string): string[] {
  return Array.from({ length: BODY_POOL }, () =>
    JSON.stringify({
      checks: Array.from({ length: size }, () => ({
        key: `cl-${run}-${Math.floor(Math.random() ** 3 * KEY_SPACE)}`,
        rule: 'free',
        cost: 1,
      })),
    }),
  );
}

const REDIS_DECISION = /"source":"redis"/g;

/** One Redis decision per check, or the call counts as bad (a fallback decision is not exact). */
export function decidedByRedis(status: number | undefined, body: string, size: number): boolean {
  return status === 200 && (body.match(REDIS_DECISION)?.length ?? 0) === size;
}

/** The busiest part, measured: Node is one thread per process, so ~1 core is its ceiling. */
export function closedLoopBottleneck(cores: ClosedLoopRecord['cores'], machineCores: number): string {
  const parts = [
    ['the rate-limiter (one Node thread)', cores.service],
    ['Redis (one thread)', cores.redis],
    ['the generator (one Node thread)', cores.generator],
  ] as const;
  const saturated = parts.filter(([, used]) => used >= 0.85).sort((a, b) => b[1] - a[1])[0];
  if (saturated) return `${saturated[0]}: ${saturated[1].toFixed(2)} cores`;
  const top = [...parts].sort((a, b) => b[1] - a[1])[0]!;
  if (cores.machineBusy >= 0.9) {
    return `the machine's ${machineCores} cores (${(cores.machineBusy * 100).toFixed(0)} % busy; the largest share ${top[0]}, ${top[1].toFixed(2)} cores)`;
  }
  return `no part saturated (machine ${(cores.machineBusy * 100).toFixed(0)} % busy; the largest share ${top[0]}, ${top[1].toFixed(2)} cores): more connections may go further`;
}

/** k6-style duration (`45s`, `2m`, `1m30s`) in seconds; undefined when it is not one. */
export function durationSeconds(text: string): number | undefined {
  const match = /^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text);
  if (!match || (!match[1] && !match[2])) return undefined;
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

export async function runBatchClosedLoop(options: {
  url: string;
  servicePid: number;
  size: number;
  connections: number;
  seconds: number;
  command: string;
  k6Binary: string;
}): Promise<ClosedLoopRecord> {
  const { url, servicePid, size, connections, seconds } = options;
  const pool = bodies(size, Date.now().toString(36));
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let measuring = false;
  let stopAt = 0;
  let calls = 0;
  let bad = 0;
  let next = 0;
  const latencies: number[] = [];

  const call = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const request = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () => {
            if (measuring) {
              latencies.push(performance.now() - started);
              calls++;
              if (!decidedByRedis(response.statusCode, body, size)) bad++;
            }
            resolve();
          });
        },
      );
      request.on('error', () => {
        if (measuring) bad++;
        resolve();
      });
      request.end(pool[next++ % BODY_POOL]);
    });
  const loop = async () => {
    while (performance.now() < stopAt) await call();
  };

  // Unmeasured warm-up: JIT, the connection pool, Redis's script cache.
  stopAt = performance.now() + WARM_UP_S * 1000;
  await Promise.all(Array.from({ length: connections }, loop));

  const before = {
    service: processCpuMs(servicePid) ?? 0,
    redis: serverCpuMs().redis ?? 0,
    generator: process.cpuUsage(),
    machine: machineCpuMs(),
  };
  measuring = true;
  const started = performance.now();
  stopAt = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, loop));
  measuring = false;
  const wallMs = performance.now() - started;
  const generatorUs = process.cpuUsage(before.generator);
  const after = {
    service: processCpuMs(servicePid) ?? 0,
    redis: serverCpuMs().redis ?? 0,
    machine: machineCpuMs(),
  };
  agent.destroy();

  const decisions = (calls - bad) * size;
  const used = {
    service: after.service - before.service,
    redis: after.redis - before.redis,
    generator: (generatorUs.user + generatorUs.system) / 1000,
  };
  const total = after.machine.total - before.machine.total;
  const cores: ClosedLoopRecord['cores'] = {
    machineBusy: total > 0 ? (after.machine.busy - before.machine.busy) / total : 0,
    service: used.service / wallMs,
    redis: used.redis / wallMs,
    generator: used.generator / wallMs,
  };
  const perDecision = (ms: number) => (decisions > 0 ? (ms * 1000) / decisions : 0);
  latencies.sort((a, b) => a - b);
  return {
    service: 'rate-limiter',
    profile: 'closed-loop',
    date: new Date().toISOString(),
    commit: commit(),
    command: options.command,
    machine: machineProfile(options.k6Binary),
    connections,
    batchSize: size,
    seconds: wallMs / 1000,
    decisionsPerS: decisions / (wallMs / 1000),
    callsPerS: calls / (wallMs / 1000),
    badCalls: bad,
    callLatencyMs: {
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
    },
    cores,
    usPerDecision: {
      service: perDecision(used.service),
      redis: perDecision(used.redis),
      generator: perDecision(used.generator),
    },
    serviceRssMb: processRssMb(servicePid) ?? 0,
    bottleneck: closedLoopBottleneck(cores, availableParallelism()),
    passed: calls > 0 && bad === 0,
  };
}

export function closedLoopMarkdown(r: ClosedLoopRecord): string {
  const n = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d });
  const us = (v: number) => v.toFixed(1);
  return [
    `# rate-limiter — batched checks, closed loop, ${r.date}`,
    '',
    `- commit \`${r.commit}\`; command \`${r.command}\``,
    `- machine: ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.cpuModel}; Node ${r.machine.node}`,
    `- ${r.connections} connections, each with one \`POST /v1/checks/batch\` of ${r.batchSize} checks in flight (keys Zipf-skewed over ${n(KEY_SPACE)}, rule \`free\`); ${WARM_UP_S} s warm-up, then ${n(r.seconds, 1)} s measured; the service as \`pnpm load\` runs it (LOG_LEVEL=warn, no tracing, shipped defaults)`,
    `- **${n(r.decisionsPerS)} decisions/s** (${n(r.callsPerS)} calls/s), every one from Redis: ${r.badCalls === 0 ? 'yes' : `**no — ${n(r.badCalls)} calls were not**`}`,
    `- latency per call: p50 ${r.callLatencyMs.p50.toFixed(1)} ms, p95 ${r.callLatencyMs.p95.toFixed(1)} ms, p99 ${r.callLatencyMs.p99.toFixed(1)} ms`,
    '',
    '| part | cores | CPU per decision | decisions/s per core of it |',
    '|---|---|---|---|',
    ...(['service', 'redis', 'generator'] as const).map(
      (part) =>
        `| ${part === 'service' ? 'rate-limiter' : part === 'redis' ? 'Redis' : 'generator (this runner)'} | ${r.cores[part].toFixed(2)} | ${us(r.usPerDecision[part])} µs | ${r.usPerDecision[part] > 0 ? n(1_000_000 / r.usPerDecision[part]) : '–'} |`,
    ),
    '',
    `- machine ${(r.cores.machineBusy * 100).toFixed(0)} % busy`,
    `- bottleneck (measured): ${r.bottleneck}`,
    '',
  ].join('\n');
}
