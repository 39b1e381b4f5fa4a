import type pg from 'pg';

/**
 * Runs `fn` on a client checked out of the pool. A checked-out client has no 'error' listener
 * (the pool removes its own on checkout), so a server crash mid-transaction would otherwise be an
 * uncaught exception that takes the whole process down; here it only fails `fn`. A client that
 * saw any error is destroyed rather than returned to the pool half-way through a transaction.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure ??= error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    failure ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(failure);
  }
}
