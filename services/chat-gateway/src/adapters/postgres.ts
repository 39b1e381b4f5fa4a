import { fileURLToPath } from 'node:url';
import { connectPostgres } from '@sdlab/service-kit/postgres';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import type { Config } from '../config.ts';

// Resolves the same from src/adapters (dev) and dist/adapters (image): the package root's migrations/.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const SCHEMA = 'chat';
// Two gateway instances start at once (the guarantee tests, a rolling deploy); they queue on this lock.
const LOCK_ID = 8_083_000_001;

declare module 'fastify' {
  interface FastifyInstance {
    pg: pg.Pool;
  }
}

/**
 * The kit's Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. Its
 * connect timeout (PG_CONNECT_TIMEOUT_MS) is what turns a send while Postgres is down into an
 * `unavailable` error frame within the timeout, which the client retries, instead of a wait
 * forever for a connection.
 */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const migrations = { schema: SCHEMA, dir: MIGRATIONS_DIR, lockId: LOCK_ID };
    app.decorate('pg', await connectPostgres(app, opts.config, migrations));
  },
  { name: 'postgres' },
);
