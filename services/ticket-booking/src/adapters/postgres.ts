import { fileURLToPath } from 'node:url';
import { runMigrations } from '@sdlab/service-kit/postgres';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
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
export const SCHEMA = 'booking';
// Our own advisory lock id: another service migrating the same database does not queue behind us.
const LOCK_ID = 8_085_000_001;

export function createPool(config: Config, name: string, log: FastifyBaseLogger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    // Without it a request waits forever for a connection while Postgres is down; with it the
    // client gets a 503 within the timeout.
    connectionTimeoutMillis: config.PG_CONNECT_TIMEOUT_MS,
    statement_timeout: config.PG_STATEMENT_TIMEOUT_MS,
    application_name: name,
  });
  // An idle client whose server went away emits 'error'; unhandled, that would kill the process.
  pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
  return pool;
}

/** The Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const pool = createPool(opts.config, app.kit.name, app.log);
    app.kit.resources.add('postgres', () => pool.end());
    await runMigrations({ pool, schema: SCHEMA, dir: MIGRATIONS_DIR, lockId: LOCK_ID, log: app.log });
    app.kit.readiness.add('postgres', () => pool.query('SELECT 1'));
    app.decorate('pg', pool);
  },
  { name: 'postgres' },
);

/** Runs `fn` in a transaction on one pooled client (the repositories take that client). */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export type Queryable = pg.Pool | pg.PoolClient;
