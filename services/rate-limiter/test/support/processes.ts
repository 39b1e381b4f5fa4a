import { fileURLToPath } from 'node:url';
import { type ServiceProcess, startServiceProcess } from '@sdlab/testkit';

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url));

export type Instance = ServiceProcess;

/**
 * Starts the service as a real process the way `pnpm start` does (minus tracing, unless
 * `spanLog`) on a free port, and resolves once it listens (/healthz; untilReady waits for Redis).
 */
export function startInstance(
  env: NodeJS.ProcessEnv,
  options: { spanLog?: boolean } = {},
): Promise<Instance> {
  return startServiceProcess('src/main.ts', {
    cwd: SERVICE_DIR,
    env,
    readyPath: '/healthz',
    timeoutMs: 20_000,
    ...options,
  });
}

/** Waits until /readyz is 200 (Redis connected). */
export async function untilReady(instance: Instance): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await fetch(`${instance.url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`not ready:\n${instance.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
