import { Agent } from 'node:http';
import { postJson } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';
import { type RunningInstance, startInstance } from '../support/processes.ts';

const TOTAL = 10_000;

describe('ID generation across instances', () => {
  test('10,000 concurrent creates across two service processes yield 10,000 distinct codes', async ({
    env,
    pg,
    kafka,
  }) => {
    const instances: RunningInstance[] = [];
    try {
      // Two real processes sharing Postgres and the Redis counter, each with its own ID blocks.
      instances.push(...(await Promise.all([startInstance(env), startInstance(env)])));
      const agents = instances.map(() => new Agent({ keepAlive: true, maxSockets: 64 }));
      const responses = await Promise.all(
        Array.from({ length: TOTAL }, (_, i) =>
          postJson(
            `${instances[i % 2]!.url}/api/links`,
            { url: `https://example.com/page/${i}` },
            agents[i % 2],
          ),
        ),
      );
      for (const agent of agents) agent.destroy();

      const statuses = new Map<number, number>();
      for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect(Object.fromEntries(statuses)).toEqual({ 201: TOTAL });
      const returned = new Set(responses.map((r) => JSON.parse(r.body).code as string));
      expect(returned.size).toBe(TOTAL);

      const { rows } = await pg.pool.query<{ total: number; distinct: number; well_formed: number }>(
        `SELECT count(*)::int AS total, count(DISTINCT code)::int AS distinct,
                count(*) FILTER (WHERE code ~ '^[0-9a-zA-Z]{7}$')::int AS well_formed
           FROM shortener.links`,
      );
      expect(rows[0]).toEqual({ total: TOTAL, distinct: TOTAL, well_formed: TOTAL });
      const stored = await pg.pool.query<{ code: string }>('SELECT code FROM shortener.links');
      expect(new Set(stored.rows.map((r) => r.code))).toEqual(returned);

      const refills = await Promise.all(
        instances.map(async (instance) => {
          const metrics = await (await fetch(`${instance.url}/metrics`)).text();
          const refused = /^sdlab_shortener_id_blocks_refused_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1];
          return [...metrics.matchAll(/sdlab_shortener_id_block_refills_total\{mode="(\w+)"[^}]*\} (\d+)/g)]
            .map((m) => `${m[1]}=${m[2]}`)
            .concat(`refused=${refused}`)
            .join(' ');
        }),
      );
      console.info(
        `10,000 creates on 2 processes: ${returned.size} distinct codes; id block refills per instance: ${refills.join(' | ')}`,
      );
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
      await kafka.admin.deleteTopics({ topics: [env.CLICKS_TOPIC!] }).catch(() => undefined);
    }
  });
});
