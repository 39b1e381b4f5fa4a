import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPrivatePostgres, startPrivateRedis } from '../src/index.ts';

describe('private servers for fault tests', () => {
  it('a private Redis can be killed and started again on the same port', async () => {
    const server = await startPrivateRedis();
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    try {
      await client.set('k', 'v');
      await server.kill();
      await expect(client.get('k')).rejects.toThrow();
      await server.start();
      await expect.poll(() => client.ping().catch(() => 'down'), { timeout: 5000 }).toBe('PONG');
      expect(await client.get('k')).toBeNull(); // no persistence: a restart is a cold cache
    } finally {
      client.disconnect();
      await server.dispose();
    }
  });

  it('a private Postgres keeps committed data across a crash and restart', async () => {
    const server = await startPrivatePostgres();
    try {
      const pool = new pg.Pool({ connectionString: server.url, max: 2 });
      pool.on('error', () => undefined); // the crash below cuts idle connections
      await pool.query('CREATE TABLE t (v int); INSERT INTO t VALUES (42)');
      await server.kill();
      await expect(pool.query('SELECT 1')).rejects.toThrow();
      await server.start();
      const { rows } = await pool.query('SELECT v FROM t');
      expect(rows).toEqual([{ v: 42 }]);
      await pool.end();
    } finally {
      await server.dispose();
    }
  });
});
