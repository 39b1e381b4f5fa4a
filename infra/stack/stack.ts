// `pnpm stack up|down|status`: the compose topology, natively. The real servers come from
// infra/native; every service and worker compose builds runs as a Node process with the
// environment compose gives it (infra/stack/plan.ts), its log and pidfile under $SDLAB_RUN/stack.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { jobsFromCompose, type NativeEndpoints, type PlannedJob, planFromCompose } from './plan.ts';
import {
  stackPid as alivePid,
  stackPidFile as pidFile,
  RUN,
  readyStatus as ready,
  STACK,
  startStackProcess,
} from './processes.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function nativeInfra(command: 'up' | 'down'): void {
  execFileSync('bash', [join(REPO_ROOT, 'infra/native/infra.sh'), command], { stdio: 'inherit' });
}

function endpoints(): NativeEndpoints & { prometheusTargets?: string; jaeger?: string; prometheus?: string } {
  return JSON.parse(readFileSync(join(RUN, 'endpoints.json'), 'utf8'));
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
    const pid = await startStackProcess(REPO_ROOT, p);
    console.log(`[${p.name}] ready on http://127.0.0.1:${p.port} (pid ${pid})`);
  }
  for (const job of jobsFromCompose(REPO_ROOT, native)) await runJob(job);
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

/** Runs a one-shot job (the booking seed) to completion, as compose does before its dependants. */
async function runJob(job: PlannedJob): Promise<void> {
  const log = join(STACK, `${job.name}.log`);
  const out = openSync(log, 'a');
  console.log(`[${job.name}] running once (log: ${log}) ...`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--conditions=@sdlab/source', job.entry], {
    cwd: join(REPO_ROOT, job.dir),
    env: { ...process.env, ...job.env },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const timer = setTimeout(() => child.kill('SIGTERM'), 600_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const last = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-1)[0] ?? '';
  if (code !== 0) {
    const tail = readFileSync(log, 'utf8').split('\n').slice(-20).join('\n');
    throw new Error(`[${job.name}] exited ${code}; last log lines:\n${tail}`);
  }
  console.log(`[${job.name}] done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${last}`);
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
