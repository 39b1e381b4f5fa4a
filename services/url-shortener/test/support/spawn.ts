import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from '@sdlab/testkit';

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface RunningInstance {
  url: string;
  child: ChildProcess;
  /** stdout so far (JSON lines when an instrumentation fixture writes spans there). */
  stdout(): string;
  stop(): Promise<void>;
}

/** Starts the shortener as a real process on its own port and waits until /readyz answers 200. */
export async function startInstance(
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): Promise<RunningInstance> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=@sdlab/source', ...nodeArgs, MAIN], {
    cwd: SERVICE_DIR,
    env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`shortener did not become ready on ${url}:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    stdout: () => stdout,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
