// `pnpm fault <scenario>|list`: a fault scenario against the stack `pnpm stack up` started. The
// scenario's server is stopped and started with infra/native/infra.sh, service processes are
// killed by their stack pidfile and restarted the way `pnpm stack` starts them; every promise is
// printed with ✓ or ✗. The server (and any killed process) is always brought back at the end,
// also after an error or Ctrl-C, with its data (SDLAB_KEEP_DATA). Exit code 1 when a promise was
// broken.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type NativeEndpoints, type PlannedProcess, planFromCompose } from '../stack/plan.ts';
import { RUN, readyStatus, stackPid, startStackProcess } from '../stack/processes.ts';
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
    console.log(`${s.name.padEnd(20)} ${(s.server ?? 'processes').padEnd(14)} ${s.title}`);
    console.log(`${''.padEnd(35)} involves: ${s.services.join(', ')}`);
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
  const onInterrupt = () => {
    try {
      restore();
      for (const p of killed) console.log(`${p.name} was killed: pnpm stack up starts it again`);
    } finally {
      process.exit(130);
    }
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);

  const target: FaultTarget = {
    url: (service) => `http://127.0.0.1:${get(service).port}`,
    env: (service) => get(service).env,
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
    },
    async kill(service) {
      const p = get(service);
      const pid = stackPid(p);
      if (!pid) throw new Error(`${service} is not running (no live pid in its stack pidfile)`);
      killed.add(p);
      process.kill(pid, 'SIGKILL');
      while (stackPid(p)) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    async restart(service) {
      const p = get(service);
      if (stackPid(p)) throw new Error(`${service} is still running`);
      await startStackProcess(ROOT, p);
      killed.delete(p);
    },
  };

  console.log(`${scenario.name}: ${scenario.title}`);
  const { ctx, results } = createFaultContext(target, (line) => console.log(line));
  let crashed: unknown;
  try {
    await scenario.run(ctx);
  } catch (error) {
    crashed = error;
  } finally {
    restore();
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
