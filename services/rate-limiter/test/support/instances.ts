import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from '@sdlab/testkit';

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface Instance {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the service as a real process the way `pnpm start` does (minus tracing) on a free port,
 * and resolves once it listens.
 */
export async function startInstance(env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<Instance> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--conditions=@sdlab/source', ...nodeArgs, MAIN], {
    cwd: SERVICE_DIR,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    out += chunk;
  });
  const exited = once(child, 'exit');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const live = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) {
      return {
        child,
        url,
        output: () => out,
        async stop() {
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            await exited;
          }
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rate-limiter did not start:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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
