import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';

// Fault tests stop and restart a server. Doing that to the shared one would break every suite
// running beside them, so each gets a private instance of the same real binary.

const exec = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateServer {
  url: string;
  /** Stops the server abruptly (SIGKILL: what a crash looks like to clients). */
  kill(): Promise<void>;
  /** Starts it again on the same port; data does not survive for Redis, does for Postgres. */
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  dispose(): Promise<void>;
}

async function waitFor(what: string, probe: () => Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not become ready: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A private `redis-server` on a free loopback port, no persistence. */
export async function startPrivateRedis(): Promise<PrivateServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(`redis on ${port}`, async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined); // refused while starting: the loop retries
      try {
        await probe.connect();
        await probe.ping();
      } finally {
        probe.disconnect();
      }
    });
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url, start, kill, dispose: kill };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A private PostgreSQL cluster (initdb as the `postgres` user, trust auth, loopback only). */
export async function startPrivatePostgres(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sdlab-pg-'));
  const asPostgres = (args: string[]) =>
    process.getuid?.() === 0
      ? exec('runuser', ['-u', 'postgres', '--', ...args])
      : exec(args[0]!, args.slice(1));
  if (process.getuid?.() === 0) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    chownSync(dir, uid, uid);
  }
  await asPostgres([
    `${PG_BIN}/initdb`,
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = async () => {
    await asPostgres([
      `${PG_BIN}/pg_ctl`,
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      options,
      'start',
    ]);
    await waitFor(`postgres on ${port}`, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.end();
    });
  };
  const kill = async () => {
    // Immediate mode: no checkpoint, connections cut, as in a crash; restart recovers from WAL.
    await asPostgres([`${PG_BIN}/pg_ctl`, '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(
      () => undefined,
    );
  };
  await start();
  return {
    url,
    start,
    kill,
    dispose: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
