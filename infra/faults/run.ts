// `pnpm fault <scenario>|list`: a fault scenario against the stack `pnpm stack up` started. The
// scenario's server is stopped and started with infra/native/infra.sh, service processes are
// killed by their stack pidfile and restarted the way `pnpm stack` starts them; every promise is
// printed with ✓ or ✗. The server (and any killed process) is always brought back at the end,
// also after an error or Ctrl-C, with its data (SDLAB_KEEP_DATA). A 'slow' scenario leaves the
// server up: a latency proxy is put in front of it and the stack processes that talk to it are
// restarted to go through it, then restarted with their own environment at the end (also after an
// error or Ctrl-C). Exit code 1 when a promise was broken.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type NativeEndpoints, type PlannedProcess, planFromCompose } from '../stack/plan.ts';
import { RUN, readyStatus, stackPid, startStackProcess } from '../stack/processes.ts';
import { proxyServer, type SlowedServer } from './latency.ts';
import { createFaultContext, type FaultScenario, type FaultTarget, summary } from './scenario.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('./scenarios/', import.meta.url));
const INFRA_SH = join(ROOT, 'infra/native/infra.sh');
const exec = promisify(execFile);
// A stopped server comes back with its data, as after a real outage (infra.sh's `up` otherwise
// starts a fresh throwaway server). Redis keeps nothing either way: the native one has no persistence.
const KEEP_DATA = { ...process.env, SDLAB_KEEP_DATA: '1' };

function scenarioNames(): string[] {
  return readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<FaultScenario> {
  if (!scenarioNames().includes(name)) {
    throw new Error(`unknown scenario '${name}' (known: ${scenarioNames().join(', ')})`);
  }
  const module = (await import(join(SCENARIOS, `${name}.ts`))) as { scenario: FaultScenario };
  return module.scenario;
}

async function list(): Promise<number> {
  for (const name of scenarioNames()) {
    const s = await load(name);
    const fault = s.server ? `${s.server}${s.kind === 'slow' ? ' (slow)' : ''}` : 'processes';
    console.log(`${s.name.padEnd(20)} ${fault.padEnd(20)} ${s.title}`);
    console.log(`${''.padEnd(41)} involves: ${s.services.join(', ')}`);
  }
  return 0;
}

/** Everything the scenario needs is up before anything is broken, or the run would mislead. */
async function preflight(scenario: FaultScenario, plan: PlannedProcess[], native: Partial<NativeEndpoints>) {
  if (scenario.server && !native[scenario.server]) {
    throw new Error(
      `${scenario.server} is not up (not in ${RUN}/endpoints.json): start it with pnpm infra:up or pnpm stack up`,
    );
  }
  for (const name of scenario.services) {
    const p = plan.find((q) => q.name === name);
    if (!p) throw new Error(`${scenario.name}: no compose service '${name}'`);
    if ((await readyStatus(p.port)) !== 200) {
      throw new Error(`${name} is not ready on :${p.port}: start the stack first (pnpm stack up)`);
    }
  }
}

async function run(name: string): Promise<number> {
  const scenario = await load(name);
  // Read once, before anything stops: infra.sh rewrites endpoints.json without the stopped server.
  const native = JSON.parse(readFileSync(join(RUN, 'endpoints.json'), 'utf8')) as NativeEndpoints;
  const plan = planFromCompose(ROOT, native);
  await preflight(scenario, plan, native);

  let serverDown = false;
  const killed = new Set<PlannedProcess>();
  const get = (service: string) => {
    const p = plan.find((q) => q.name === service);
    if (!p) throw new Error(`no compose service '${service}'`);
    return p;
  };
  const restore = () => {
    if (serverDown && scenario.server) {
      console.log(`\nbringing ${scenario.server} back (infra.sh up ${scenario.server})`);
      execFileSync('bash', [INFRA_SH, 'up', scenario.server], { stdio: 'inherit', env: KEEP_DATA });
      serverDown = false;
    }
  };

  // A 'slow' scenario: the proxy, and the processes restarted to go through it (their proxied plan).
  let slowed: SlowedServer | undefined;
  const proxied = new Map<string, PlannedProcess>();
  const slowDown = async () => {
    if (scenario.kind !== 'slow') return;
    if (!scenario.server) throw new Error(`${scenario.name} is 'slow' but names no server`);
    slowed = await proxyServer(scenario.server, native[scenario.server]);
    const through = planFromCompose(ROOT, { ...native, [scenario.server]: slowed.endpoint });
    // Every running client of the server, not only the scenario's services: the fault is the server's.
    for (const p of through) {
      const own = get(p.name);
      if (JSON.stringify(p.env) === JSON.stringify(own.env) || !stackPid(own)) continue;
      console.log(`restarting ${p.name} with ${scenario.server} behind a latency proxy (${slowed.endpoint})`);
      proxied.set(p.name, p);
      await stopStackProcess(own);
      await startStackProcess(ROOT, p);
    }
  };
  /** The process as it runs now: through the proxy while a 'slow' scenario has it restarted. */
  const current = (service: string) => proxied.get(service) ?? get(service);
  const speedUp = async () => {
    for (const p of [...proxied.values()]) {
      proxied.delete(p.name);
      killed.delete(p); // started again here, with its own environment
      console.log(`restarting ${p.name} with its own environment`);
      try {
        await stopStackProcess(p);
        await startStackProcess(ROOT, get(p.name));
      } catch (error) {
        console.error(`${p.name}: ${String(error)} (pnpm stack up starts it again)`);
      }
    }
    await slowed?.proxy.close();
    slowed = undefined;
  };

  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) return;
    interrupted = true;
    // The proxy lives in this process: the processes using it are put back before it exits.
    void (async () => {
      try {
        restore();
        await speedUp();
        for (const p of killed) console.log(`${p.name} was killed: pnpm stack up starts it again`);
      } finally {
        process.exit(130);
      }
    })();
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);

  const target: FaultTarget = {
    url: (service) => `http://127.0.0.1:${get(service).port}`,
    env: (service) => current(service).env,
    fault: {
      async stop() {
        if (!scenario.server) throw new Error(`${scenario.name} stops no server`);
        serverDown = true;
        await exec('bash', [INFRA_SH, 'down', scenario.server]);
      },
      async start() {
        if (!scenario.server) throw new Error(`${scenario.name} stops no server`);
        await exec('bash', [INFRA_SH, 'up', scenario.server], { env: KEEP_DATA });
        serverDown = false;
      },
      async slow(ms) {
        if (!slowed) throw new Error(`${scenario.name} slows no server`);
        slowed.proxy.setDelay(ms);
      },
    },
    async kill(service) {
      const p = current(service);
      const pid = stackPid(p);
      if (!pid) throw new Error(`${service} is not running (no live pid in its stack pidfile)`);
      killed.add(p);
      process.kill(pid, 'SIGKILL');
      while (stackPid(p)) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    async restart(service) {
      const p = current(service);
      if (stackPid(p)) throw new Error(`${service} is still running`);
      await startStackProcess(ROOT, p);
      killed.delete(p);
    },
  };

  console.log(`${scenario.name}: ${scenario.title}`);
  const { ctx, results } = createFaultContext(target, (line) => console.log(line));
  let crashed: unknown;
  try {
    await slowDown();
    await scenario.run(ctx);
  } catch (error) {
    crashed = error;
  } finally {
    restore();
    await speedUp();
    for (const p of [...killed]) {
      console.log(`restarting ${p.name}, killed by the scenario`);
      await startStackProcess(ROOT, p).catch((error: unknown) => console.error(String(error)));
    }
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
  console.log(`\n${summary(results)}`);
  if (crashed) {
    console.error(
      `the scenario stopped early: ${crashed instanceof Error ? crashed.stack : String(crashed)}`,
    );
    return 1;
  }
  return results.length > 0 && results.every((r) => r.ok) ? 0 : 1;
}

/** SIGTERM (the process drains and closes), SIGKILL if it is still there after 20 s, as `pnpm stack down`. */
async function stopStackProcess(p: PlannedProcess): Promise<void> {
  const pid = stackPid(p);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (stackPid(p) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  if (stackPid(p)) process.kill(pid, 'SIGKILL');
  while (stackPid(p)) await new Promise((resolve) => setTimeout(resolve, 50));
}

const [command] = process.argv.slice(2);
const job =
  !command || command === '-h' || command === '--help'
    ? undefined
    : command === 'list'
      ? list()
      : run(command);
if (!job) {
  console.error(`usage: pnpm fault <scenario>|list   (scenarios: ${scenarioNames().join(', ')})`);
  process.exit(2);
}
job.then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
