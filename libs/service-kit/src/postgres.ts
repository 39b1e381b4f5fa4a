import type { FastifyBaseLogger } from 'fastify';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import Type from 'typebox';
import type { KitHost } from './create-service.ts';
import { keepPostgresLeafSpans } from './postgres-span-context.ts';
import { isPostgresUnavailable, retry } from './retry.ts';
import { telemetryStarted } from './trace-context.ts';

export { isPostgresUnavailable };

/** What the runner logs through: a service's pino (or Fastify) logger. */
export type MigrationLog = Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

export interface MigrationOptions {
  pool: pg.Pool;
  /** The service's schema: created if missing, and home of its `pgmigrations` table. */
  schema: string;
  /** Absolute path of the service's `migrations/` folder. */
  dir: string;
  /**
   * The service's own advisory lock id. node-pg-migrate's default is shared by every user of the
   * library, so another service migrating the same database would queue behind this one.
   */
  lockId: number;
  log: MigrationLog;
}

/**
 * Checks a client out for `fn` and releases it afterwards, destroyed if `fn` called `discard` or
 * the client emitted 'error'. A checked-out client has no 'error' listener (the pool removes its
 * own on checkout), so a server crash mid-transaction would otherwise be an uncaught exception
 * that takes the whole process down; here it only fails `fn`.
 */
async function checkOut<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, discard: (error: unknown) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  const discard = (error: unknown) => {
    failure ??= error instanceof Error ? error : new Error(String(error));
  };
  client.on('error', discard);
  try {
    return await fn(client, discard);
  } finally {
    client.removeListener('error', discard);
    client.release(failure);
  }
}

/**
 * Runs `fn` on a client checked out of the pool; a server crash under it only fails `fn`. A
 * client that saw any error is destroyed rather than returned to the pool half-way through a
 * transaction.
 */
export function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return checkOut(pool, async (client, discard) => {
    try {
      return await fn(client);
    } catch (error) {
      discard(error);
      throw error;
    }
  });
}

const MIGRATION_STARTED = /^### MIGRATION (.+) \(UP\) ###$/;

/**
 * Applies pending migrations at start-up and returns the names it applied. Instances that start
 * together (a rolling deploy, the multi-instance tests) queue on the advisory lock (`wait`)
 * instead of failing. Each migration runs in its own transaction: a failing one is rolled back,
 * the ones before it stay, and the promise rejects with an error naming it. The client is then
 * destroyed, not returned: node-pg-migrate leaves it inside the aborted transaction, still
 * holding the session's advisory lock.
 */
export async function runMigrations(options: MigrationOptions): Promise<string[]> {
  const { pool, schema, dir, lockId, log } = options;
  // node-pg-migrate reports which migration it is on only through its logger.
  let current: string | undefined;
  const applied = await withClient(pool, (client) =>
    runner({
      dbClient: client,
      dir,
      schema,
      createSchema: true,
      migrationsSchema: schema,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      lockValue: lockId,
      advisoryLockMode: 'wait',
      logger: {
        debug: (msg: string) => log.debug(msg),
        info: (msg: string) => {
          current = MIGRATION_STARTED.exec(msg)?.[1] ?? current;
          log.debug(msg);
        },
        warn: (msg: string) => log.warn(msg),
        error: (msg: string) => log.error(msg),
      },
    }),
  ).catch((error: unknown) => {
    if (current === undefined) throw error;
    throw new Error(`migration ${current} (schema ${schema}) failed: ${(error as Error).message}`, {
      cause: error,
    });
  });
  const names = applied.map((m) => m.name);
  if (names.length) log.info({ migrations: names }, 'migrations applied');
  return names;
}

/**
 * A whole stack starting at once (`docker compose up`, a loaded CI machine) can keep Postgres from
 * answering a first connect within PG_CONNECT_TIMEOUT_MS; exiting then leaves the restart policy to
 * recover after `up --wait` has already failed. A minute covers a cold container's start.
 */
export const DEFAULT_STARTUP_WAIT_MS = 60_000;

/**
 * The pool settings a service spreads into its config schema, the same names and bounds everywhere.
 * A batch writer (the aggregator's flush, the reconciliation) raises the statement timeout.
 */
export function postgresConfig(
  statementTimeout: { default: number; maximum: number } = { default: 5000, maximum: 600_000 },
) {
  return {
    DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/postgres', minLength: 1 }),
    PG_POOL_MAX: Type.Integer({ default: 10, minimum: 1, maximum: 100 }),
    /** How long a query waits for a pooled connection before the service answers its coded 503. */
    PG_CONNECT_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 100, maximum: 60_000 }),
    PG_STATEMENT_TIMEOUT_MS: Type.Integer({ ...statementTimeout, minimum: 100 }),
    /** How long a start waits for an unreachable Postgres before it exits (0: not at all). */
    PG_STARTUP_WAIT_MS: Type.Integer({ default: DEFAULT_STARTUP_WAIT_MS, minimum: 0, maximum: 600_000 }),
  };
}

/** The pool settings, named alike in every service's config (so the config object itself fits). */
export interface PostgresConfig {
  DATABASE_URL: string;
  PG_POOL_MAX: number;
  /** How long a query waits for a connection: without it, forever while Postgres is down. */
  PG_CONNECT_TIMEOUT_MS: number;
  /** The server-side limit per statement; a service without one keeps the server's (none). */
  PG_STATEMENT_TIMEOUT_MS?: number;
  /** How long a start keeps trying an unreachable server; {@link DEFAULT_STARTUP_WAIT_MS} when absent. */
  PG_STARTUP_WAIT_MS?: number;
}

/** Where a service's migrations live and what they run under: see {@link MigrationOptions}. */
export type ServiceMigrations = Omit<MigrationOptions, 'pool' | 'log'>;

/**
 * The service's Postgres pool: named after the service in pg_stat_activity, ended on shutdown,
 * migrated before it is returned, then checked by /readyz (SELECT 1).
 */
export async function connectPostgres(
  host: KitHost,
  config: PostgresConfig,
  migrations: ServiceMigrations,
): Promise<pg.Pool> {
  const { kit, log } = host;
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    connectionTimeoutMillis: config.PG_CONNECT_TIMEOUT_MS,
    ...(config.PG_STATEMENT_TIMEOUT_MS === undefined
      ? {}
      : { statement_timeout: config.PG_STATEMENT_TIMEOUT_MS }),
    application_name: kit.name,
  });
  if (telemetryStarted()) keepPostgresLeafSpans(pool);
  // An idle client whose server went away emits 'error' on the pool; unhandled, that kills the
  // process. The next query gets a fresh connection (or fails within the connect timeout).
  pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
  kit.resources.add('postgres', () => pool.end());
  const waitMs = config.PG_STARTUP_WAIT_MS ?? DEFAULT_STARTUP_WAIT_MS;
  // Only an unreachable server is waited for; a migration that fails fails the start at once.
  await retry(() => runMigrations({ pool, ...migrations, log }), {
    maxAttempts: waitMs === 0 ? 1 : Number.MAX_SAFE_INTEGER,
    maxElapsedMs: waitMs,
    baseDelayMs: 250,
    maxDelayMs: 2_000,
    isRetriable: isPostgresUnavailable,
    onRetry: ({ error, attempt, delayMs }) =>
      log.warn(
        { err: error, attempt, retryInMs: delayMs, waitMs },
        'postgres not reachable at start; waiting for it before migrating',
      ),
  });
  kit.readiness.add('postgres', () => pool.query('SELECT 1'));
  return pool;
}

/**
 * Runs `fn` in a transaction on one pooled client (the repositories take that client): BEGIN,
 * COMMIT when `fn` resolves, ROLLBACK and rethrow when it throws. After a clean rollback the
 * client goes back to the pool: a refused hold or a conflict is routine, no reason to reconnect.
 * A client whose connection broke (it emitted 'error', or the ROLLBACK failed) is released with
 * that error, so the pool discards it instead of handing out a connection in an unknown state.
 */
export function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return checkOut(pool, async (client, discard) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(discard);
      throw error;
    }
  });
}
