import { fileURLToPath } from 'node:url';
import { type ServiceProcess, startServiceProcess } from '@sdlab/testkit';

/** A booking instance as its own OS process (`node src/main.ts`), for multi-process guarantees. */
export function spawnBooking(
  env: NodeJS.ProcessEnv,
  port: number,
  options: {
    entry?: 'src/main.ts' | 'src/worker.ts';
    traced?: boolean;
    /** Another service's folder (the payment provider), run the same way. */
    dir?: string;
  } = {},
): Promise<ServiceProcess> {
  return startServiceProcess(options.entry ?? 'src/main.ts', {
    cwd: options.dir ?? fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...env, LOG_LEVEL: 'warn' },
    port,
    spanLog: options.traced ?? false,
  });
}
