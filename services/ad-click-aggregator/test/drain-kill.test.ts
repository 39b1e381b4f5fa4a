import { type KafkaFixture, type PgFixture, type RedisFixture, test, waitFor } from '@sdlab/testkit';
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { describe, expect } from 'vitest';
import { type ClickEvent, encodeClick } from '../src/domain/click-event.ts';
import { increment, rollUp, sorted, storedCounts } from './support/counts.ts';
import { adClickEnv, createTopics } from './support/env.ts';
import { metricFromText } from './support/metrics.ts';
import { committedTotal, waitAllCommitted } from './support/offsets.ts';
import { startProcess } from './support/processes.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const PARTITIONS = 6;
const ADS = 60;
const CLICKS = 200_000;
/** Every 50th click is produced twice (a spool re-send): counted once. */
const COPY_EVERY = 50;
/** The clicks span 8 minutes of event time, in order: 8 windows per ad, none late. */
const SPAN_MS = 8 * MIN;

interface Fixtures {
  pg: PgFixture;
  redis: RedisFixture;
  kafka: KafkaFixture;
}

interface Message {
  partition: number;
  event: ClickEvent;
}

/** The backlog: keyed by ad, an ad always on one partition (as the ingest's producer keys it). */
function backlog(): Message[][] {
  const byPartition: Message[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let i = 0; i < CLICKS; i++) {
    const ad = i % ADS;
    const partition = ad % PARTITIONS;
    const event: ClickEvent = {
      impressionId: `dk-${ad}.c.${i.toString(36)}`,
      adId: `dk-${ad}`,
      campaignId: 'c',
      clickedAt: T0 + Math.floor((i * SPAN_MS) / CLICKS),
      dedup: 'redis',
    };
    byPartition[partition]!.push({ partition, event });
    if (i % COPY_EVERY === COPY_EVERY - 1) byPartition[partition]!.push({ partition, event });
  }
  return byPartition;
}

/** Per-(ad, minute) counts of the distinct clicks in each partition's first `upTo[p]` messages. */
function expectedCounts(byPartition: Message[][], upTo: (partition: number) => number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [partition, messages] of byPartition.entries()) {
    const seen = new Set<string>();
    for (const { event } of messages.slice(0, upTo(partition))) {
      const key = `${event.impressionId}|${event.clickedAt}`;
      if (seen.has(key)) continue;
      seen.add(key);
      increment(counts, `${event.adId}|${new Date(event.clickedAt - (event.clickedAt % MIN)).toISOString()}`);
    }
  }
  return counts;
}

/** Produced partition by partition in big requests: offset k of partition p is byPartition[p][k]. */
async function preload(producer: Producer, topic: string, byPartition: Message[][]): Promise<void> {
  for (const messages of byPartition) {
    for (let i = 0; i < messages.length; i += 5000) {
      await producer.send({
        topic,
        acks: -1,
        messages: messages.slice(i, i + 5000).map((m) => ({
          partition: m.partition,
          key: m.event.adId,
          value: encodeClick(m.event),
        })),
      });
    }
  }
}

async function storedOffsets(pool: pg.Pool): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ kafka_partition: number; next_offset: string }>(
    'SELECT kafka_partition, next_offset::text FROM adclick.consumer_offsets',
  );
  return new Map(rows.map((r) => [r.kafka_partition, Number(r.next_offset)]));
}

/** Flush statements of the worker running in Postgres now (each in an open transaction). */
async function flushesRunning(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND state = 'active' AND query LIKE '%INSERT INTO adclick.raw_clicks%'`,
  );
  return rows[0]!.n;
}

/**
 * Preloads the backlog, starts the worker as a real process with the shipped flush settings, kills
 * it with SIGKILL once at least `inFlight` flush statements are running after a first commit, and
 * checks the counts at the kill and after a restart.
 */
async function killMidFlush({ pg, redis, kafka }: Fixtures, inFlight: number): Promise<void> {
  const topics = await createTopics(kafka, PARTITIONS);
  // The shipped flush triggers (20,000 events or 10 s), flush concurrency and fetch size; only the
  // group session is short, so the restarted worker need not wait 30 s for the dead member to expire.
  const env = adClickEnv({ pg, redis, kafka }, topics, { LOG_LEVEL: 'warn' });
  delete env.FLUSH_INTERVAL_MS;
  const byPartition = backlog();
  const messages = byPartition.reduce((n, m) => n + m.length, 0);
  const producer = kafka.kafka.producer();
  await producer.connect();
  let first: Awaited<ReturnType<typeof startProcess>> | undefined;
  let second: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    await preload(producer, topics.clicks, byPartition);

    first = await startProcess('src/worker.ts', env);
    // Kill while flush transactions are open, after at least one flush committed.
    let flushesAtKill = 0;
    await waitFor(
      `${inFlight} flush(es) in progress after the first commit`,
      async () => {
        if ((await committedTotal(pg.pool)) === 0) return false;
        flushesAtKill = await flushesRunning(pg.pool);
        return flushesAtKill >= inFlight;
      },
      120_000,
    );
    const consumedAtKill = metricFromText(await first.metrics(), 'sdlab_adclick_aggregator_consumed_offset');
    await first.kill('SIGKILL');
    expect(first.child.signalCode).toBe('SIGKILL');

    // The killed transactions rolled back: the counts are exactly those of the offsets stored
    // with them, partition by partition, nothing of the flushes that were running.
    const atKill = await storedOffsets(pg.pool);
    const committedAtKill = [...atKill.values()].reduce((a, b) => a + b, 0);
    expect(committedAtKill).toBeGreaterThan(0);
    expect(committedAtKill).toBeLessThan(messages);
    expect(sorted(await storedCounts(pg.pool, 'minute'))).toEqual(
      sorted(expectedCounts(byPartition, (p) => atKill.get(p) ?? 0)),
    );

    second = await startProcess('src/worker.ts', env);
    expect(await waitAllCommitted(pg.pool, kafka.admin, topics.clicks, 180_000)).toBe(messages);

    const expected = expectedCounts(byPartition, (p) => byPartition[p]!.length);
    expect([...expected.values()].reduce((a, b) => a + b, 0)).toBe(CLICKS);
    expect(sorted(await storedCounts(pg.pool, 'minute'))).toEqual(sorted(expected));
    expect(sorted(await storedCounts(pg.pool, 'hour'))).toEqual(sorted(rollUp(expected, 60 * MIN)));
    expect(sorted(await storedCounts(pg.pool, 'day'))).toEqual(sorted(rollUp(expected, 24 * 60 * MIN)));
    const raw = await pg.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM adclick.raw_clicks');
    expect(Number(raw.rows[0]!.n)).toBe(CLICKS);
    console.info('fast drain killed mid-flush', {
      messages,
      clicks: CLICKS,
      flushesAtKill,
      consumedAtKill,
      committedAtKill,
      lostInFlightAndBuffered: consumedAtKill - committedAtKill,
      windows: expected.size,
    });
    await second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  } finally {
    await first?.kill('SIGKILL');
    await second?.kill('SIGKILL');
    await producer.disconnect();
  }
}

describe('a fast-draining worker killed with SIGKILL', () => {
  test('mid-flush, with the shipped flush settings: Postgres holds exactly the counted prefix, and after a restart exactly the backlog', async ({
    pg,
    redis,
    kafka,
  }) => {
    await killMidFlush({ pg, redis, kafka }, 1);
  }, 420_000);

  test('with two flushes in flight (FLUSH_CONCURRENCY, shipped as 2): both roll back, each partition keeps exactly its counted prefix', async ({
    pg,
    redis,
    kafka,
  }) => {
    await killMidFlush({ pg, redis, kafka }, 2);
  }, 420_000);
});
