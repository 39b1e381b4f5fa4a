import { fileURLToPath } from 'node:url';
import { type MigrationLog, runMigrations } from '@sdlab/service-kit/postgres';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import type { Config } from '../config.ts';

// Resolves the same from src/adapters (dev) and dist/adapters (image): the package root's migrations/.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const SCHEMA = 'shortener';
// Several instances start at once (the two-instance test, a rolling deploy); they queue on this lock.
const LOCK_ID = 8_081_000_001;

/** Applies the service's pending migrations (start-up, and tests that use the domain without an app). */
export function migrate(pool: pg.Pool, log: MigrationLog): Promise<string[]> {
  return runMigrations({ pool, schema: SCHEMA, dir: MIGRATIONS_DIR, lockId: LOCK_ID, log });
}

declare module 'fastify' {
  interface FastifyInstance {
    pg: pg.Pool;
  }
}

/** The Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const pool = new pg.Pool({
      connectionString: config.DATABASE_URL,
      max: config.PG_POOL_MAX,
      // Without it a create waits forever for a connection while Postgres is down; with it the
      // client gets a 503 within the timeout.
      connectionTimeoutMillis: config.PG_CONNECT_TIMEOUT_MS,
      statement_timeout: config.PG_STATEMENT_TIMEOUT_MS,
      application_name: app.kit.name,
    });
    // An idle client whose server went away emits 'error' on the pool; unhandled, that kills the
    // process. The next query gets a fresh connection (or a 503 while Postgres is still down).
    pool.on('error', (err) => app.log.warn({ err }, 'idle postgres connection failed'));
    app.kit.resources.add('postgres', () => pool.end());
    await migrate(pool, app.log);
    app.kit.readiness.add('postgres', () => pool.query('SELECT 1'));
    app.decorate('pg', pool);
  },
  { name: 'postgres' },
);
