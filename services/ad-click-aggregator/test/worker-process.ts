import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from '@sdlab/testkit';
import { waitFor } from './helpers.ts';

const SERVICE_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
  /** The process's /metrics text. */
  metrics(): Promise<string>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Starts an entry of the service (src/worker.ts or src/main.ts) as a real process, the way
 * `pnpm start` does, and waits for /readyz. Extra node arguments go before the entry.
 */
export async function startProcess(
  entry: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): Promise<RunningProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=@sdlab/source', ...nodeArgs, entry], {
    cwd: SERVICE_DIR,
    env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `${entry} to be ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        return (await fetch(`${url}/readyz`)).ok;
      },
      60_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${entry} did not start: ${String(error)}\n${output}`);
  }
  return {
    child,
    url,
    output: () => output,
    exited,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
