import { fileURLToPath } from 'node:url';
import { type NodeProcess, type ServiceProcess, spawnNode, startServiceProcess } from '@sdlab/testkit';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('./fixtures/example-service.ts', import.meta.url));

export interface RunningExample extends ServiceProcess {
  /** The admin listener's URL when ADMIN_PORT is set. */
  adminUrl: string | undefined;
  /** Every stdout line so far, parsed where it is JSON. */
  lines: unknown[];
}

/** Starts the example service as a real process (signals and exit codes need one), not waiting for it. */
export function spawnExample(env: NodeJS.ProcessEnv, options: { spanLog?: boolean } = {}): NodeProcess {
  return spawnNode(EXAMPLE, { cwd: PACKAGE_DIR, env, ...options });
}

/** Starts the example service and waits until it is up and has announced its addresses. */
export async function startExample(
  env: NodeJS.ProcessEnv = {},
  options: { spanLog?: boolean; nodeArgs?: string[] } = {},
): Promise<RunningExample> {
  // /healthz, not /readyz: a test may start it with its one dependency down.
  const service = await startServiceProcess(EXAMPLE, {
    cwd: PACKAGE_DIR,
    env: { LOG_LEVEL: 'info', ...env },
    readyPath: '/healthz',
    timeoutMs: 15_000,
    ...options,
  });
  const deadline = Date.now() + 5_000;
  for (;;) {
    // The example writes this line once it listens on both ports.
    const match = service.stdout().match(/\{"listening":"([^"]+)"(?:,"admin":"([^"]+)")?\}/);
    if (match) {
      return {
        ...service,
        adminUrl: match[2],
        get lines() {
          return parseLines(service.stdout());
        },
      };
    }
    if (Date.now() > deadline) {
      await service.kill('SIGKILL');
      throw new Error(`example service did not announce its addresses:\n${service.output()}`);
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
