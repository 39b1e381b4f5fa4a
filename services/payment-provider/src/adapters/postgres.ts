import { fileURLToPath } from 'node:url';
import { runMigrations } from '@sdlab/service-kit/postgres';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import type { Config } from '../config.ts';

declare module 'fastify' {
  interface FastifyInstance {
    pg: pg.Pool;
  }
}

// The same path from src/adapters (dev) and dist/adapters (image): the package's migrations/.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const SCHEMA = 'payments';
// Our own advisory lock id: another service migrating the same database does not queue behind us.
const LOCK_ID = 8_086_000_001;

/** The Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const pool = new pg.Pool({
      connectionString: opts.config.DATABASE_URL,
      max: opts.config.PG_POOL_MAX,
      connectionTimeoutMillis: opts.config.PG_CONNECT_TIMEOUT_MS,
      application_name: app.kit.name,
    });
    // An idle client whose server went away emits 'error'; unhandled, that would kill the process.
    pool.on('error', (err) => app.log.warn({ err }, 'idle postgres connection failed'));
    app.kit.resources.add('postgres', () => pool.end());
    await runMigrations({ pool, schema: SCHEMA, dir: MIGRATIONS_DIR, lockId: LOCK_ID, log: app.log });
    app.kit.readiness.add('postgres', () => pool.query('SELECT 1'));
    app.decorate('pg', pool);
  },
  { name: 'postgres' },
);
