import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './private-servers.ts';
import { type LoggedSpan, readSpanLog, SPAN_LOG } from './span-log.ts';

export interface NodeProcessOptions {
  /** The package folder, as `pnpm start` runs there; the entry is relative to it. */
  cwd: string;
  /** The process's whole environment besides PATH: nothing else leaks in from the test runner. */
  env?: NodeJS.ProcessEnv;
  /** Node flags before the entry. */
  nodeArgs?: string[];
  /** Loads the span log (SPAN_LOG) before the app: `spans()` then reads every finished span. */
  spanLog?: boolean;
}

/** A node process started by a test, with its output kept. */
export interface NodeProcess {
  child: ChildProcess;
  /** Its exit code; null when a signal ended it. */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved as they arrived. */
  output(): string;
  /** The spans it logged so far (started with `spanLog`). */
  spans(): LoggedSpan[];
  /** SIGTERM, then waits for the exit: the graceful stop. Nothing if it has already exited. */
  stop(): Promise<void>;
  /** Sends `signal` (SIGKILL unless told) and waits for the exit. Nothing if it has already exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A service process listening on its own loopback port. */
export interface ServiceProcess extends NodeProcess {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Its /metrics text. */
  metrics(): Promise<string>;
}

// A test that fails between start and stop must not leave a service running after the worker.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `node --conditions=@sdlab/source <nodeArgs> <entry>` the way `pnpm start` runs a
 * service from source, without waiting for anything: for processes expected to refuse to start.
 */
export function spawnNode(entry: string, options: NodeProcessOptions): NodeProcess {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@sdlab/source',
      ...(options.spanLog ? ['--import', SPAN_LOG] : []),
      ...(options.nodeArgs ?? []),
      entry,
    ],
    { cwd: options.cwd, env: { PATH: process.env.PATH, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    output += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number | null;
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    spans: () => readSpanLog(stdout),
    stop: () => kill('SIGTERM'),
    kill,
  };
}

export interface ServiceProcessOptions extends NodeProcessOptions {
  /** The port it listens on (PORT); a free one unless given. */
  port?: number;
  /** The path that answers 200 once it is up: /readyz unless told (/healthz: up, dependencies aside). */
  readyPath?: string;
  timeoutMs?: number;
}

/**
 * Starts a service entry (src/main.ts, src/worker.ts) as a real process on a loopback port and
 * resolves once `readyPath` answers 200. HOST is 127.0.0.1 and LOG_LEVEL warn unless `env` says
 * otherwise. If it exits or times out first, it is killed and the error carries its output.
 */
export async function startServiceProcess(
  entry: string,
  options: ServiceProcessOptions,
): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const started = spawnNode(entry, {
    ...options,
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...options.env, PORT: String(port) },
  });
  const readyUrl = `${url}${options.readyPath ?? '/readyz'}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const ready = await fetch(readyUrl).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) break;
    const exitCode = started.child.exitCode;
    if (exitCode !== null || Date.now() > deadline) {
      await started.kill('SIGKILL');
      const why = exitCode !== null ? `exited with ${exitCode}` : `was not ready on ${readyUrl}`;
      throw new Error(`${entry} in ${options.cwd} ${why}:\n${started.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ...started, port, url, metrics: async () => (await fetch(`${url}/metrics`)).text() };
}
