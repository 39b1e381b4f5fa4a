/**
 * infra/native's pidfiles name a process, not only a pid. CI runs on a machine restored from a
 * snapshot of a developer's: the pidfiles of servers that ran there survive, and their pids may
 * belong to unrelated processes. `up` then waited 120 s for an Elasticsearch that was never started
 * and failed the run; `down` could have signalled a stranger.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const INFRA = join(import.meta.dirname, '..', 'native', 'infra.sh');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A live process that is not a Redis server: what a stale pidfile's pid turns into. */
function stranger(): ChildProcess {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  cleanups.push(() => void child.kill('SIGKILL'));
  return child;
}

async function infra(runDir: string, port: number, ...args: string[]) {
  return run('bash', [INFRA, ...args], {
    env: { ...process.env, SDLAB_RUN: runDir, SDLAB_REDIS_PORT: String(port) },
    timeout: 60_000,
  });
}

function privateRunDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdlab-pidfiles-'));
  mkdirSync(join(dir, 'redis'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('infra/native pidfiles', () => {
  it.each([
    ['a pid alone (the old format)', (pid: number) => `${pid}\n`],
    [
      'a pid with another process identity',
      (pid: number) => `${pid} 1 00000000-0000-0000-0000-000000000000\n`,
    ],
  ])(
    '`up` starts the server when the pidfile holds %s of a live stranger, and `down` leaves the stranger alone',
    async (_, pidfile) => {
      const runDir = privateRunDir();
      const port = await freePort();
      const other = stranger();
      writeFileSync(join(runDir, 'redis', 'redis.pid'), pidfile(other.pid!));

      const up = await infra(runDir, port, 'up', 'redis');
      cleanups.push(async () => void (await infra(runDir, port, 'down', 'redis').catch(() => undefined)));
      expect(up.stdout).toContain(`[redis] starting on 127.0.0.1:${port}`);
      const [recorded, start, boot] = readFileSync(join(runDir, 'redis', 'redis.pid'), 'utf8')
        .trim()
        .split(' ');
      expect(Number(recorded)).not.toBe(other.pid);
      expect(start).toMatch(/^\d+$/);
      expect(boot).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
      const status = await infra(runDir, port, 'status', 'redis');
      expect(status.stdout).toMatch(new RegExp(`redis\\s+${recorded}\\s+${port}\\s+yes`));

      // Point the pidfile back at the stranger: `down` must not signal it.
      writeFileSync(join(runDir, 'redis', 'redis.pid'), pidfile(other.pid!));
      const down = await infra(runDir, port, 'down', 'redis');
      expect(down.stdout).toContain('[redis] not running');
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
      process.kill(Number(recorded), 'SIGTERM');
    },
  );
});
