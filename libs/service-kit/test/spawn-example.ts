import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('./fixtures/example-service.ts', import.meta.url));

export interface RunningExample {
  child: ChildProcess;
  url: string;
  /** The admin listener's URL when ADMIN_PORT is set. */
  adminUrl: string | undefined;
  /** Every stdout line so far, parsed where it is JSON. */
  lines: unknown[];
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts the example service as a real process (signals and exit codes need one). */
export function spawnExample(env: NodeJS.ProcessEnv, nodeArgs: string[] = []) {
  const child = spawn(process.execPath, ['--conditions=@sdlab/source', ...nodeArgs, EXAMPLE], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, output: () => ({ stdout, stderr }) };
}

export async function startExample(
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<RunningExample> {
  const { child, exited, output } = spawnExample({ LOG_LEVEL: 'info', ...env }, nodeArgs);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = output().stdout.match(/\{"listening":"([^"]+)"(?:,"admin":"([^"]+)")?\}/);
    if (match) {
      return {
        child,
        url: match[1]!,
        adminUrl: match[2],
        get lines() {
          return parseLines(output().stdout);
        },
        stderr: () => output().stderr,
        exited,
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`example service did not start:\n${output().stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function parseLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return line;
      }
    });
}
