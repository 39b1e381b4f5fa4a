// `pnpm stack up|down|status`: the compose topology, natively. The real servers come from
// infra/native; every service and worker compose builds runs as a Node process with the
// environment compose gives it (infra/stack/plan.ts), its log and pidfile under $SDLAB_RUN/stack.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type NativeEndpoints, type PlannedProcess, planFromCompose } from './plan.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN =
  process.env.SDLAB_RUN ?? join(process.env.SDLAB_CACHE ?? join(homedir(), '.cache', 'sdlab'), 'run');
const STACK = join(RUN, 'stack');

function nativeInfra(command: 'up' | 'down'): void {
  execFileSync('bash', [join(REPO_ROOT, 'infra/native/infra.sh'), command], { stdio: 'inherit' });
}

function endpoints(): NativeEndpoints & { prometheusTargets?: string; jaeger?: string; prometheus?: string } {
  return JSON.parse(readFileSync(join(RUN, 'endpoints.json'), 'utf8'));
}

const pidFile = (p: PlannedProcess) => join(STACK, `${p.name}.pid`);
const logFile = (p: PlannedProcess) => join(STACK, `${p.name}.log`);

function alivePid(p: PlannedProcess): number | undefined {
  if (!existsSync(pidFile(p))) return undefined;
  const pid = Number(readFileSync(pidFile(p), 'utf8'));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function ready(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

async function up(): Promise<void> {
  nativeInfra('up');
  const native = endpoints();
  await ensureDatabase(native.postgres, 'sdlab');
  const plan = planFromCompose(REPO_ROOT, native);
  mkdirSync(STACK, { recursive: true });
  for (const p of plan) {
    if (alivePid(p)) {
      console.log(`[${p.name}] already up (pid ${alivePid(p)})`);
      continue;
    }
    const out = openSync(logFile(p), 'a');
    const child = spawn(
      process.execPath,
      ['--conditions=@sdlab/source', '--import', '@sdlab/service-kit/instrument', p.entry],
      {
        cwd: join(REPO_ROOT, p.dir),
        env: { ...process.env, ...p.env },
        detached: true,
        stdio: ['ignore', out, out],
      },
    );
    closeSync(out);
    writeFileSync(pidFile(p), String(child.pid));
    child.unref();
    const deadline = Date.now() + 90_000;
    while ((await ready(p.port)) !== 200) {
      if (!alivePid(p) || Date.now() > deadline) {
        const tail = readFileSync(logFile(p), 'utf8').split('\n').slice(-40).join('\n');
        throw new Error(`[${p.name}] did not become ready on :${p.port}; last log lines:\n${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    console.log(`[${p.name}] ready on http://127.0.0.1:${p.port} (pid ${child.pid})`);
  }
  if (native.prometheusTargets) {
    writeFileSync(
      join(native.prometheusTargets, 'stack.json'),
      JSON.stringify(
        plan.map((p) => ({ targets: [`127.0.0.1:${p.port}`], labels: { job: p.name } })),
        null,
        2,
      ),
    );
  }
  console.log('\nOpen:');
  for (const p of plan) console.log(`  ${p.name.padEnd(24)} http://127.0.0.1:${p.port}/docs`);
  if (native.jaeger) console.log(`  ${'jaeger (API)'.padEnd(24)} ${native.jaeger}/api/services`);
  if (native.prometheus) console.log(`  ${'prometheus'.padEnd(24)} ${native.prometheus}/classic/graph`);
  console.log(`Logs: ${STACK}/<service>.log and ${RUN}/<server>/server.log`);
}

async function down(): Promise<void> {
  const native = endpoints();
  const plan = planFromCompose(REPO_ROOT, native).reverse();
  for (const p of plan) {
    const pid = alivePid(p);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (alivePid(p) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      if (alivePid(p)) process.kill(pid, 'SIGKILL');
      console.log(`[${p.name}] stopped`);
    }
    rmSync(pidFile(p), { force: true });
  }
  if (native.prometheusTargets) rmSync(join(native.prometheusTargets, 'stack.json'), { force: true });
  if (process.argv.includes('--keep-infra')) return;
  nativeInfra('down');
}

async function status(): Promise<number> {
  execFileSync('bash', [join(REPO_ROOT, 'infra/native/infra.sh'), 'status'], { stdio: 'inherit' });
  const plan = planFromCompose(REPO_ROOT, endpoints());
  console.log(`\n${'SERVICE'.padEnd(24)} ${'PID'.padEnd(8)} ${'PORT'.padEnd(6)} READYZ`);
  let notReady = 0;
  for (const p of plan) {
    const code = await ready(p.port);
    if (code !== 200) notReady++;
    console.log(
      `${p.name.padEnd(24)} ${String(alivePid(p) ?? '-').padEnd(8)} ${String(p.port).padEnd(6)} ${code || 'down'}`,
    );
  }
  return notReady === 0 ? 0 : 1;
}

const command = process.argv[2];
const run =
  command === 'up'
    ? up().then(() => 0)
    : command === 'down'
      ? down().then(() => 0)
      : command === 'status'
        ? status()
        : undefined;
if (!run) {
  console.error('usage: pnpm stack up|down [--keep-infra]|status');
  process.exit(2);
}
run.then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
