import type pg from 'pg';

// Raw clicks are partitioned by day (adclick.raw_clicks_YYYYMMDD). Retention drops whole
// partitions, and reconciliation must know which days still have raw data: both read the list here.

export interface RawPartition {
  name: string;
  /** The partition's day: UTC midnight, ms. */
  day: number;
}

/** The day partitions of adclick.raw_clicks as they stand in the catalogue. */
export async function rawPartitions(pool: pg.Pool): Promise<RawPartition[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
     JOIN pg_class c ON c.oid = i.inhrelid
     JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_namespace n ON n.oid = p.relnamespace
     WHERE n.nspname = 'adclick' AND p.relname = 'raw_clicks'`,
  );
  const partitions: RawPartition[] = [];
  for (const { name } of rows) {
    const match = /^raw_clicks_(\d{4})(\d{2})(\d{2})$/.exec(name);
    if (match)
      partitions.push({ name, day: Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) });
  }
  return partitions;
}
