import { fileURLToPath } from 'node:url';
import { type ServiceProcess, startServiceProcess } from '@sdlab/testkit';

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url));

export type RunningInstance = ServiceProcess;

/** Starts the shortener as a real process on its own port and waits until /readyz answers 200. */
export function startInstance(
  env: NodeJS.ProcessEnv,
  options: { spanLog?: boolean } = {},
): Promise<RunningInstance> {
  return startServiceProcess('src/main.ts', {
    cwd: SERVICE_DIR,
    env: { ...env, LOG_LEVEL: 'warn' },
    ...options,
  });
}
