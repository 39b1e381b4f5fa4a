import { fileURLToPath } from 'node:url';
import { runMigrations } from '@sdlab/service-kit/postgres';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { SCHEMA } from '../src/adapters/postgres.ts';
import { createAggregateStore } from '../src/domain/aggregate-store.ts';
import { rawPartitions } from '../src/domain/raw-partitions.ts';
import type { CountedClick } from '../src/domain/windows.ts';

// Retention drops whole day partitions of the raw clicks (the daily reconcile job calls it). On a
// real Postgres: which days go for a given retention, that the kept days keep their rows, and that
// a dropped day can be written again (the store forgets it knew the partition).

const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const clickOn = (day: number) => ({ clickedAt: day + 3_600_000 }) as CountedClick;
const names = async (pool: Parameters<typeof rawPartitions>[0]) =>
  (await rawPartitions(pool)).map((p) => p.name).sort();

describe('raw click retention', () => {
  test('dropOldPartitions drops every day older than the retention, keeps the rest and their rows', async ({
    pg,
  }) => {
    const dir = fileURLToPath(new URL('../migrations', import.meta.url));
    await runMigrations({ pool: pg.pool, schema: SCHEMA, dir, lockId: 8_084_000_099, log: quiet });
    const store = createAggregateStore(pg.pool, { topic: 'retention', workerId: 'w1' });
    const jan = (d: number) => Date.UTC(2026, 0, d);
    await store.ensureDays([7, 8, 9, 10].map((d) => clickOn(jan(d))));
    expect(await names(pg.pool)).toEqual([
      'raw_clicks_20260107',
      'raw_clicks_20260108',
      'raw_clicks_20260109',
      'raw_clicks_20260110',
    ]);
    await pg.pool.query(
      `INSERT INTO adclick.raw_clicks
         (impression_id, clicked_at, ad_id, campaign_id, late, dedup, kafka_partition, kafka_offset)
       VALUES ('i-9', $1, 'ad', 'c', false, 'first', 0, 1), ('i-10', $2, 'ad', 'c', false, 'first', 0, 2)`,
      [new Date(jan(9) + 60_000), new Date(jan(10) + 60_000)],
    );

    // Five hours into 10 January with one day of retention: the cut is 9 January 00:00, so the
    // 7th and the 8th (whole days before it) go; the 9th and the 10th stay.
    const now = jan(10) + 5 * 3_600_000;
    expect((await store.dropOldPartitions(1, now)).sort()).toEqual([
      'raw_clicks_20260107',
      'raw_clicks_20260108',
    ]);
    expect(await names(pg.pool)).toEqual(['raw_clicks_20260109', 'raw_clicks_20260110']);
    const { rows } = await pg.pool.query(
      'SELECT impression_id FROM adclick.raw_clicks ORDER BY impression_id',
    );
    expect(rows.map((r) => r.impression_id)).toEqual(['i-10', 'i-9']);
    expect(await store.dropOldPartitions(1, now)).toEqual([]);

    // A late click for a dropped day: the store recreates its partition rather than trusting
    // its memory of it, so the write lands instead of failing on a missing partition.
    await store.ensureDays([clickOn(jan(8))]);
    expect(await names(pg.pool)).toContain('raw_clicks_20260108');
  });
});
