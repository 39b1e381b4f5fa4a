import { fileURLToPath } from 'node:url';
import { startPrivatePostgres, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { connectPostgres, isPostgresUnavailable } from '../src/postgres.ts';
import { eventually, kitHost } from './fixtures/kit-host.ts';

const MIGRATIONS = {
  schema: 'kit',
  dir: fileURLToPath(new URL('./fixtures/migrations/good', import.meta.url)),
  lockId: 8_099_000_002,
};

/**
 * A private Postgres stopped before the start, and a kit host: what a service meets when its
 * database is not up yet. `use` gets a config that waits `waitMs` at start-up.
 */
async function withPostgresDown(
  waitMs: number,
  use: (ctx: {
    server: Awaited<ReturnType<typeof startPrivatePostgres>>;
    host: ReturnType<typeof kitHost>['host'];
    lines: ReturnType<typeof kitHost>['lines'];
    config: {
      DATABASE_URL: string;
      PG_POOL_MAX: number;
      PG_CONNECT_TIMEOUT_MS: number;
      PG_STARTUP_WAIT_MS: number;
    };
  }) => Promise<void>,
): Promise<void> {
  const server = await startPrivatePostgres();
  const { host, lines, close } = kitHost();
  try {
    await server.kill();
    const config = {
      DATABASE_URL: server.url,
      PG_POOL_MAX: 2,
      PG_CONNECT_TIMEOUT_MS: 300,
      PG_STARTUP_WAIT_MS: waitMs,
    };
    await use({ server, host, lines, config });
  } finally {
    await close();
    await server.dispose();
  }
}

describe('connectPostgres (real Postgres)', () => {
  test('a migrated pool under the service name with its timeouts, checked by readiness, ended on close', async ({
    pg: db,
  }) => {
    const { host, kit, ready, close } = kitHost('kit-pool');
    const config = {
      DATABASE_URL: db.url,
      PG_POOL_MAX: 3,
      PG_CONNECT_TIMEOUT_MS: 1000,
      PG_STATEMENT_TIMEOUT_MS: 1234,
    };
    const pool = await connectPostgres(host, config, MIGRATIONS);
    try {
      const migrated = await db.pool.query('SELECT name FROM kit.pgmigrations ORDER BY id');
      expect(migrated.rows.map((r) => r.name)).toEqual(['1000000000000_slow-first', '2000000000000_second']);
      const { rows } = await pool.query(
        `SELECT current_setting('application_name') AS name, current_setting('statement_timeout') AS timeout`,
      );
      expect(rows[0]).toEqual({ name: 'kit-pool', timeout: '1234ms' });
      await expect(pool.query('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
      expect(pool.options).toMatchObject({ max: 3, connectionTimeoutMillis: 1000 });
      expect(kit.readiness.names).toEqual(['postgres']);
      expect(await ready()).toEqual({ postgres: true });
      expect(kit.resources.names).toEqual(['postgres']);
    } finally {
      await close();
    }
    expect(pool.ended).toBe(true);
  });

  test('without a statement timeout in the config, the server default (none) stays', async ({ pg: db }) => {
    const { host, close } = kitHost();
    const config = { DATABASE_URL: db.url, PG_POOL_MAX: 2, PG_CONNECT_TIMEOUT_MS: 1000 };
    const pool = await connectPostgres(host, config, MIGRATIONS);
    try {
      const { rows } = await pool.query(`SELECT current_setting('statement_timeout') AS timeout`);
      expect(rows[0].timeout).toBe('0');
    } finally {
      await close();
    }
  });

  test('a stopped server: idle connections fail as a warning, readiness fails, then recovers', async () => {
    const server = await startPrivatePostgres();
    const { host, lines, ready, close } = kitHost();
    try {
      const config = { DATABASE_URL: server.url, PG_POOL_MAX: 2, PG_CONNECT_TIMEOUT_MS: 500 };
      const pool = await connectPostgres(host, config, MIGRATIONS);
      await pool.query('SELECT 1');
      expect(pool.idleCount).toBeGreaterThan(0);

      await server.kill();
      // Unhandled, the idle connection's error would be an uncaught exception failing this test.
      await eventually('the idle connection failure logged', () =>
        lines.some((l) => l.level === 40 && l.msg === 'idle postgres connection failed'),
      );
      expect(await ready()).toEqual({ postgres: false });

      await server.start();
      await eventually('readiness back', async () => (await ready()).postgres === true);
    } finally {
      await close();
      await server.dispose();
    }
  });

  test('a start waits for a Postgres that is not up yet, logging each wait, and migrates once it answers', async () => {
    await withPostgresDown(30_000, async ({ server, host, lines, config }) => {
      const connecting = connectPostgres(host, config, MIGRATIONS);
      let settled = false;
      connecting.then(
        () => (settled = true),
        () => (settled = true),
      );
      await eventually('a logged wait', () =>
        lines.some((l) => l.level === 40 && l.msg.startsWith('postgres not reachable at start')),
      );
      expect(settled).toBe(false);
      await server.start();
      const pool = await connecting;
      const migrated = await pool.query('SELECT count(*)::int AS n FROM kit.pgmigrations');
      expect(migrated.rows[0].n).toBe(2);
    });
  });

  test('with PG_STARTUP_WAIT_MS 0 an unreachable Postgres fails the start at once', async () => {
    await withPostgresDown(0, async ({ host, lines, config }) => {
      const started = performance.now();
      await expect(connectPostgres(host, config, MIGRATIONS)).rejects.toSatisfy(isPostgresUnavailable);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(lines.filter((l) => l.msg.startsWith('postgres not reachable at start'))).toEqual([]);
    });
  });
});
