import { fileURLToPath } from 'node:url';
import { type ServiceProcess, startServiceProcess } from '@sdlab/testkit';

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface GatewayProcess extends ServiceProcess {
  wsUrl: string;
}

/** The gateway as a real process (src/main.ts), for crashes (SIGKILL) and signals. */
export async function spawnGateway(
  env: Record<string, string>,
  options: { spanLog?: boolean } = {},
): Promise<GatewayProcess> {
  const gateway = await startServiceProcess('src/main.ts', { cwd: PACKAGE_DIR, env, ...options });
  return { ...gateway, wsUrl: `ws://127.0.0.1:${gateway.port}/ws` };
}
