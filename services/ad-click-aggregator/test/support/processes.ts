import { fileURLToPath } from 'node:url';
import { type ServiceProcess, startServiceProcess } from '@sdlab/testkit';

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url));

export type RunningProcess = ServiceProcess;

/**
 * Starts an entry of the service (src/worker.ts or src/main.ts) as a real process, the way
 * `pnpm start` does, and waits for /readyz.
 */
export function startProcess(
  entry: 'src/main.ts' | 'src/worker.ts',
  env: NodeJS.ProcessEnv,
  options: { spanLog?: boolean } = {},
): Promise<RunningProcess> {
  return startServiceProcess(entry, { cwd: SERVICE_DIR, env, ...options });
}
