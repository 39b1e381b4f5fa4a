import { Agent, request } from 'node:http';
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

/** The fields of a decision the multi-process tests read. */
export interface CheckReply {
  allowed: boolean;
  source: string;
  remaining: number;
}

// Keep-alive sockets, enough for real concurrency without 1,000 TCP handshakes per round.
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

export function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: CheckReply; headers: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          data += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(data), headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
