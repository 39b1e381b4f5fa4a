/**
 * How a planned process runs natively: the source entry under the kit's OTel import, in its
 * service folder, with the environment compose gives it, output appended to a log file. Shared by
 * `pnpm stack` (detached, tracked by pidfile), `pnpm fault` (restarting a killed process the same
 * way) and the fault tests (attached children), so all three start a service identically.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PlannedProcess } from './plan.ts';

/** $SDLAB_RUN: where infra/native keeps endpoints.json, and the stack its pidfiles and logs. */
export const RUN =
  process.env.SDLAB_RUN ?? join(process.env.SDLAB_CACHE ?? join(homedir(), '.cache', 'sdlab'), 'run');
export const STACK = join(RUN, 'stack');

export const stackPidFile = (p: PlannedProcess) => join(STACK, `${p.name}.pid`);
export const stackLogFile = (p: PlannedProcess) => join(STACK, `${p.name}.log`);

/**
 * A process's identity: its start time (field 22 of /proc/PID/stat) and the kernel's boot id. A
 * pid alone is not one: after a reboot, or on a machine restored from a snapshot (as CI runs), a
 * pidfile's pid may name an unrelated process, which `pnpm stack down` would then signal.
 */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${fields[19]} ${boot}`;
  } catch {
    return undefined;
  }
}

/** The pid in the process's stack pidfile, if that same process still runs. */
export function stackPid(p: PlannedProcess): number | undefined {
  if (!existsSync(stackPidFile(p))) return undefined;
  const [pidText, ...identity] = readFileSync(stackPidFile(p), 'utf8').trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const current = processIdentity(pid);
  if (current === undefined) return undefined;
  if (identity.length > 0) return identity.join(' ') === current ? pid : undefined;
  // A pidfile from before identities were recorded: trust it only for a process we started.
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return cmdline.includes('@sdlab/source') ? pid : undefined;
}

/** Starts one process of the stack, detached and tracked by its pidfile, and waits until ready. */
export async function startStackProcess(repoRoot: string, p: PlannedProcess): Promise<number> {
  mkdirSync(STACK, { recursive: true });
  const child = spawnPlanned(repoRoot, p, { logFile: stackLogFile(p), detached: true });
  writeFileSync(stackPidFile(p), `${child.pid} ${processIdentity(child.pid!) ?? ''}`.trim());
  child.unref();
  await waitReady(p, { alive: () => stackPid(p) !== undefined, logFile: stackLogFile(p) });
  return child.pid!;
}

export interface SpawnOptions {
  /** Appended to, never truncated: a restart keeps the log of the run before it. */
  logFile: string;
  /** Detached: outlives the caller (the stack); attached: dies with it (tests). */
  detached: boolean;
  /** Extra variables over the planned environment. */
  env?: Record<string, string>;
}

export function spawnPlanned(repoRoot: string, p: PlannedProcess, options: SpawnOptions): ChildProcess {
  const out = openSync(options.logFile, 'a');
  try {
    return spawn(
      process.execPath,
      // The young generation as compose sizes it (NODE_OPTIONS there; loadtests/src/processes.ts).
      [
        '--conditions=@sdlab/source',
        '--max-semi-space-size=8',
        '--import',
        '@sdlab/service-kit/instrument',
        p.entry,
      ],
      {
        cwd: join(repoRoot, p.dir),
        env: { ...process.env, ...p.env, ...options.env },
        detached: options.detached,
        stdio: ['ignore', out, out],
      },
    );
  } finally {
    closeSync(out);
  }
}

/** The HTTP status of the process's /readyz, or 0 when nothing answers within 2 s. */
export async function readyStatus(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

export function logTail(logFile: string, lines = 40): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n') : '';
}

/**
 * Waits for /readyz to answer 200; fails with the tail of the log when the process exits first
 * or the deadline passes.
 */
export async function waitReady(
  p: PlannedProcess,
  options: { alive: () => boolean; logFile: string; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while ((await readyStatus(p.port)) !== 200) {
    if (!options.alive() || Date.now() > deadline) {
      throw new Error(
        `[${p.name}] did not become ready on :${p.port}; last log lines:\n${logTail(options.logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
