// `pnpm stack up|down|status`: the compose topology, natively. The real servers come from
// infra/native; every service and worker compose builds runs as a Node process with the
// environment compose gives it (infra/stack/plan.ts), its log and pidfile under $SDLAB_RUN/stack.
// `pnpm stack up <service ...>` starts part of it the way `docker compose up <service ...>` does:
// those services and what they depend_on, on only the servers that needs.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  graphFromCompose,
  jobsFromCompose,
  type NativeEndpoints,
  OBSERVABILITY,
  type PlannedJob,
  planFromCompose,
  type Selection,
  selectionOf,
  UnknownServiceError,
} from './plan.ts';
import {
  stackPid as alivePid,
  stackPidFile as pidFile,
  RUN,
  readyStatus as ready,
  STACK,
  startStackProcess,
} from './processes.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** No servers named: all of them. */
function nativeInfra(command: 'up' | 'down', servers: string[] = []): void {
  execFileSync('bash', [join(REPO_ROOT, 'infra/native/infra.sh'), command, ...servers], { stdio: 'inherit' });
}

/** Only the servers that are up: a stack of one service leaves the others out. */
function endpoints(): Partial<NativeEndpoints> & {
  prometheusTargets?: string;
  jaeger?: string;
  prometheus?: string;
} {
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

async function up(names: string[]): Promise<void> {
  const selection = selectionOf(graphFromCompose(REPO_ROOT), names);
  explain(selection, names);
  nativeInfra('up', selection.servers);
  const native = endpoints();
  if (native.postgres) await ensureDatabase(native.postgres, 'sdlab');
  const chosen = new Set(selection.services);
  const all = planFromCompose(REPO_ROOT, native);
  const plan = all.filter((p) => chosen.has(p.name));
  mkdirSync(STACK, { recursive: true });
  for (const p of plan) {
    if (alivePid(p)) {
      console.log(`[${p.name}] already up (pid ${alivePid(p)})`);
      continue;
    }
    const pid = await startStackProcess(REPO_ROOT, p);
    console.log(`[${p.name}] ready on http://127.0.0.1:${p.port} (pid ${pid})`);
  }
  for (const job of jobsFromCompose(REPO_ROOT, native).filter((j) => chosen.has(j.name))) await runJob(job);
  if (native.prometheusTargets) {
    // Every process of the stack that runs, including those an earlier `up <service>` started.
    writeFileSync(
      join(native.prometheusTargets, 'stack.json'),
      JSON.stringify(
        all
          .filter((p) => alivePid(p))
          .map((p) => ({ targets: [`127.0.0.1:${p.port}`], labels: { job: p.name } })),
        null,
        2,
      ),
    );
  }
  console.log('\nOpen:');
  for (const p of plan) console.log(`  ${p.name.padEnd(28)} http://127.0.0.1:${p.port}/docs`);
  if (native.jaeger) console.log(`  ${'jaeger (API)'.padEnd(28)} ${native.jaeger}/api/services`);
  if (native.prometheus) console.log(`  ${'prometheus'.padEnd(28)} ${native.prometheus}/classic/graph`);
  console.log(`Logs: ${STACK}/<service>.log and ${RUN}/<server>/server.log`);
}

/** Says what `up` starts and why, before it starts anything. */
function explain(selection: Selection, names: string[]): void {
  if (names.length === 0) {
    console.log(`stack: every service docker-compose.yml builds; servers: ${selection.servers.join(' ')}`);
    return;
  }
  console.log(
    `stack: ${names.join(', ')} and what ${names.length > 1 ? 'they depend' : 'it depends'} on in ` +
      `docker-compose.yml, as \`docker compose up ${names.join(' ')}\` starts them`,
  );
  for (const [name, needs] of selection.needs)
    console.log(`  ${name} needs: ${needs.length > 0 ? needs.join(', ') : 'no other service'}`);
  console.log(`  always: ${OBSERVABILITY.join(', ')} (the traces and metrics the tour reads)`);
  if (selection.leftOut.length > 0)
    console.log(`  not started, name them to add them: ${selection.leftOut.join(', ')}`);
  console.log(`  servers: ${selection.servers.join(' ')}`);
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

/**
 * 0 when everything `up` started is ready. A service it did not start is "not started" and
 * does not count; one that crashed keeps its pidfile until `down`, so it does.
 */
async function status(): Promise<number> {
  execFileSync('bash', [join(REPO_ROOT, 'infra/native/infra.sh'), 'status'], { stdio: 'inherit' });
  const plan = planFromCompose(REPO_ROOT, endpoints());
  console.log(`\n${'SERVICE'.padEnd(28)} ${'PID'.padEnd(8)} ${'PORT'.padEnd(6)} READYZ`);
  let started = 0;
  let notReady = 0;
  for (const p of plan) {
    const code = await ready(p.port);
    const ours = existsSync(pidFile(p));
    if (ours) started++;
    if (ours && code !== 200) notReady++;
    console.log(
      `${p.name.padEnd(28)} ${String(alivePid(p) ?? '-').padEnd(8)} ${String(p.port).padEnd(6)} ${code || (ours ? 'down' : 'not started')}`,
    );
  }
  if (started === 0) console.log('\nNothing started: pnpm stack up [service ...]');
  return started > 0 && notReady === 0 ? 0 : 1;
}

const [command, ...args] = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const run =
  command === 'up' && flags.length === 0
    ? up(names).then(() => 0)
    : command === 'down' && names.length === 0 && flags.every((f) => f === '--keep-infra')
      ? down().then(() => 0)
      : command === 'status' && args.length === 0
        ? status()
        : undefined;
if (!run) {
  console.error('usage: pnpm stack up [service ...] | down [--keep-infra] | status');
  process.exit(2);
}
run.then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    // An unknown service name is a usage error, found before anything starts.
    process.exit(error instanceof UnknownServiceError ? 2 : 1);
  },
);
