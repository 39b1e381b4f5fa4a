// `node --conditions=@sdlab/source loadtests/src/running-stack.ts [service|all] [--profile smoke|full] [--duration 30s]`:
// each k6 scenario against services that already run (CI's `docker compose up`), with their
// thresholds enforced. Unlike run.ts it starts no service and measures no CPU: it answers "does the
// running stack hold the scenario", not "what does one process hold". Like run.ts it then drives
// the bare handler of the same shape at the same rate and says when the rate was the generator's
// limit; as in run.ts, that explains a broken threshold but does not pass it.
// Ports are the published ones (the SDLAB_*_PORT variables docker-compose.yml reads).
// --duration sets each measured run's length (the scenario's own by default). A percentile needs
// samples: the rate-limiter's 10 s smoke is 2,000 checks, so its p99 is the 20th slowest, and two
// 40 ms stalls of a shared VM (each delays the ~8 checks that arrive during it) decide it.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bareCounts, bareScript, offeredRate, startBare } from './bare-handler.ts';
import { runCli } from './cli.ts';
import { type CpuAccount, startCpuAccount } from './cpu-usage.ts';
import { generatorBound, parseLatencyThreshold } from './efficiency.ts';
import { runK6 } from './k6.ts';
import { listeningAddress, type Running } from './processes.ts';
import { summarise, thresholdObserved } from './report.ts';
import { availableServices, REPO_ROOT, scenarioPath } from './services.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { profile: { type: 'string', default: 'smoke' }, duration: { type: 'string' } },
});
const profile = values.profile === 'full' ? 'full' : 'smoke';
if (values.duration !== undefined && !/^\d+(s|m)$/.test(values.duration)) {
  throw new Error(`running-stack: --duration ${values.duration} is not a duration like 30s or 2m`);
}
const measured: Record<string, string> = values.duration ? { DURATION: values.duration } : {};
const LOG_DIR = join(REPO_ROOT, 'loadtests/results/logs');

/** A compose service's URL on the host: `SDLAB_<NAME>_PORT`, else its own port. */
function published(name: string, port: number): string {
  const value = process.env[`SDLAB_${name.toUpperCase().replaceAll('-', '_')}_PORT`] ?? String(port);
  return `http://127.0.0.1:${value}`;
}

const COMPOSE_SERVICES = new Set([
  'url-shortener',
  'rate-limiter',
  'chat-gateway',
  'ad-click-aggregator',
  'ticket-booking',
]);

/** What each scenario reads besides BASE_URL and the runner's k6Env, pointed at the published ports. */
const EXTRA: Record<string, Record<string, string>> = {
  'chat-gateway': { BASE_URL_2: published('chat-gateway-2', 8093) },
  'ad-click-aggregator': { WORKER_URL: published('ad-click-aggregator-worker', 9484) },
};

/** The whole machine over a run: how busy, and how much the hypervisor took (steal), as % of all cores. */
function machineShare(account: CpuAccount): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  return `machine during the run: busy ${pct(account.machineBusy)} of all cores, of which steal ${pct(account.machineSteal ?? 0)}`;
}

async function main(): Promise<number> {
  const wanted = positionals[0] ?? 'all';
  // The services compose runs (the runner also knows benchmarks of the kit alone, which it starts).
  const services = availableServices().filter(
    (s) => COMPOSE_SERVICES.has(s.name) && (wanted === 'all' || s.name === wanted),
  );
  if (services.length === 0) throw new Error(`no scenario for "${wanted}"`);
  const k6 = process.env.K6_BIN ?? 'k6';
  const bares = new Map<string, { running: Running; url: string }>();
  let failures = 0;
  try {
    for (const service of services) {
      const api = service.processes.find((p) => !p.dir && p.entry === 'src/main.ts') ?? service.processes[0]!;
      const env = {
        PROFILE: profile,
        BASE_URL: published(service.name, api.port),
        ...service.k6Env,
        ...EXTRA[service.name],
      };
      process.stdout.write(`\n=== ${service.name} (${profile}, running stack at ${env.BASE_URL}) ===\n`);
      // Warm up first, unmeasured, as run.ts does and a deployment does before taking traffic
      // [000:1212]: a fresh container's JIT, pools and Elasticsearch caches are cold. 15 s, not 5:
      // a fresh Elasticsearch container spent 23 ms of CPU per booking search after ~500 searches
      // and 8 ms only after ~1,200 (its JIT still compiling), and 5 s of smoke is ~150 searches.
      await runK6(k6, scenarioPath(service), { ...env, PROFILE: 'smoke', DURATION: '15s' });
      const account = startCpuAccount([]);
      const result = await runK6(k6, scenarioPath(service), { ...env, ...measured });
      const machine = machineShare(account.finish());
      const { metrics, errorRate } = summarise(result, service.measures);
      for (const m of metrics) {
        for (const t of m.thresholds) {
          const observed = thresholdObserved(m, t.expression);
          process.stdout.write(
            `${t.ok ? 'ok    ' : 'BROKEN'} ${m.metric} ${t.expression}${observed === undefined ? '' : ` (${observed})`}\n`,
          );
        }
      }
      process.stdout.write(`${machine}\n`);
      // The bare handler (a native process on the host, as k6 is) at the rate this run was offered.
      const shapeKey = JSON.stringify(service.shape);
      if (!bares.has(shapeKey)) {
        const running = await startBare(service.shape, LOG_DIR);
        bares.set(shapeKey, { running, url: await listeningAddress(running) });
      }
      const { script, env: bareEnv } = bareScript(
        service.shape,
        bares.get(shapeKey)!.url,
        offeredRate(service, result),
        '10s',
        profile,
      );
      const bare = bareCounts(service.shape, await runK6(k6, script, bareEnv));
      const expression = result.thresholds.find((t) => t.metric === service.primaryMetric)?.expression;
      const threshold = expression ? parseLatencyThreshold(expression) : undefined;
      const bound = threshold ? generatorBound(bare.p99, threshold) : false;
      process.stdout.write(
        `bare handler at ${Math.round(offeredRate(service, result))}/s: p99 ${bare.p99.toFixed(1)} ms${
          threshold
            ? bound
              ? ` > ${threshold.ms / 2} ms: GENERATOR-BOUND (k6 and the machine alone spend more than half of ${expression} at this rate)`
              : `, under ${threshold.ms / 2} ms: not generator-bound`
            : ''
        }\n`,
      );
      const passed = result.exitCode === 0 && result.thresholds.every((t) => t.ok);
      process.stdout.write(
        `${service.name}: ${passed ? 'passed' : bound ? 'FAILED (generator-bound)' : 'FAILED'}, error rate ${(errorRate * 100).toFixed(2)}%\n`,
      );
      if (!passed) {
        failures++;
        process.stdout.write(`${result.output.slice(-3000)}\n`);
      }
    }
  } finally {
    for (const bare of bares.values()) await bare.running.stop();
  }
  process.stdout.write(`\nload (running stack): ${services.length - failures} passed, ${failures} failed\n`);
  return failures === 0 ? 0 : 1;
}

runCli(main);
