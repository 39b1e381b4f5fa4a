import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

/** V8's young generation per semi-space, in MB, as every service process runs (see startNode). */
export const SEMI_SPACE = '--max-semi-space-size=8';

/**
 * Every measured process commits durably: a commit returns once its WAL is flushed to disk, as with
 * Postgres's defaults in compose. The native test server defaults to `synchronous_commit=off` for
 * the test suite's speed; a figure such as "every message stored before its ack" must not rest on
 * that. node-postgres reads PGOPTIONS; a caller's own PGOPTIONS wins.
 */
export const DURABLE_COMMITS = '-c synchronous_commit=on';

export interface Running {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Cores to run on (`taskset -c`), e.g. `0` or `0-1`; unpinned when absent. */
  cpus?: string;
  /** Node flags before the entry, e.g. `--import @sdlab/service-kit/instrument`. */
  nodeArgs?: string[];
}

/**
 * Starts a Node process with the workspace's source condition, its output going to a log file.
 * With `cpus` it runs under `taskset`, which execs node: the child's pid is node's own, so its
 * CPU time in /proc is the service's.
 */
export async function startNode(
  name: string,
  cwd: string,
  entry: string,
  env: Record<string, string | undefined>,
  logDir: string,
  options: StartOptions = {},
): Promise<Running> {
  await mkdir(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  // The young generation as the images and compose size it (docker-compose.yml, NODE_OPTIONS):
  // V8's default lets each semi-space grow to 16 MB and stay there, ~25 MB of RSS per process at no
  // measured throughput gain (issue 16). The bare handler gets it too, so the two stay comparable.
  const nodeArgs = ['--conditions=@sdlab/source', SEMI_SPACE, ...(options.nodeArgs ?? []), entry];
  const [command, args] = options.cpus
    ? ['taskset', ['-c', options.cpus, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    cwd,
    env: { PGOPTIONS: DURABLE_COMMITS, ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return {
    name,
    child,
    logFile,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls a URL until it answers 200: a service's /readyz means its dependencies answered too. */
export async function waitReady(url: string, running: Running, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (running.child.exitCode !== null) {
      throw new Error(
        `${running.name} exited with ${running.child.exitCode} before it was ready; see ${running.logFile}`,
      );
    }
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${running.name} not ready at ${url} after ${timeoutMs} ms; see ${running.logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Reads `{"listening":"http://..."}` from a helper process's stdout. */
export async function listeningAddress(running: Running, timeoutMs = 15_000): Promise<string> {
  let buffer = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${running.name} did not report its address`)),
      timeoutMs,
    );
    running.child.stdout!.on('data', (chunk) => {
      buffer += chunk;
      const match = buffer.match(/\{"listening":"([^"]+)"\}/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
}

/**
 * Refuses a port something already listens on: a process left from an earlier run (or `pnpm stack
 * up`) would answer the readiness probe and take the load while the new one failed to start.
 */
export async function assertPortFree(port: number): Promise<void> {
  const taken = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (taken) {
    throw new Error(
      `port ${port} is already in use: stop what listens there (\`pnpm stack down\`, or \`ss -ltnp | grep :${port}\`) before a load run`,
    );
  }
}
