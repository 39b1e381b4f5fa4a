import { fileURLToPath } from 'node:url';
import { connectPostgres } from '@sdlab/service-kit/postgres';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
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

/** The kit's Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const migrations = { schema: SCHEMA, dir: MIGRATIONS_DIR, lockId: LOCK_ID };
    app.decorate('pg', await connectPostgres(app, opts.config, migrations));
  },
  { name: 'postgres' },
);
