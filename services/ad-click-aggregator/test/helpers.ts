import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_JWT_SECRET, JwtIssuer } from '@sdlab/service-kit/auth';
import type { KafkaFixture, PgFixture, RedisFixture } from '@sdlab/testkit';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import type { Registry } from 'prom-client';

export interface Topics {
  clicks: string;
  deadLetter: string;
  partitions: number;
}

export async function createTopics(kafka: KafkaFixture, partitions: number): Promise<Topics> {
  return {
    clicks: await createTopic(kafka, 'clicks', partitions),
    deadLetter: await createTopic(kafka, 'dead-letter', 1),
    partitions,
  };
}

/**
 * The fixture's createTopic, retried under a new name: on the shared broker, waiting for a new
 * topic's leaders now and then fails with UNKNOWN_TOPIC_OR_PARTITION while the metadata settles.
 * The half-created topic (named like a group id: same prefix) is deleted.
 */
async function createTopic(kafka: KafkaFixture, name: string, partitions: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const attemptName = attempt === 0 ? name : `${name}-r${attempt}`;
    try {
      return await kafka.createTopic(attemptName, partitions);
    } catch (error) {
      await kafka.admin.deleteTopics({ topics: [kafka.groupId(attemptName)] }).catch(() => undefined);
      if (attempt >= 3) throw error;
    }
  }
}

/** A fresh spool directory, removed by the returned function. */
export function spoolDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'adclick-test-spool-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The service's environment on this test's own database, key prefix, topics and group. */
export function serviceEnv(
  f: { pg: PgFixture; redis: RedisFixture; kafka: KafkaFixture },
  topics: Topics,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: f.pg.url,
    REDIS_URL: f.redis.url,
    REDIS_KEY_PREFIX: f.redis.prefix,
    KAFKA_BROKERS: f.kafka.brokers.join(','),
    CLICKS_TOPIC: topics.clicks,
    CLICKS_TOPIC_PARTITIONS: String(topics.partitions),
    DEAD_LETTER_TOPIC: topics.deadLetter,
    CONSUMER_GROUP: f.kafka.groupId('aggregator'),
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_MS: '500',
    FLUSH_INTERVAL_MS: '300',
    RECONCILE_ENABLED: 'false',
    LOG_LEVEL: 'error',
    PORT: '0',
    HOST: '127.0.0.1',
    ...overrides,
  };
}

/** Polls until `probe` returns a value (not undefined/false); fails with the last value after the timeout. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sum of a metric's samples (optionally those with matching labels) in an in-process registry. */
export async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!found) return 0;
  return (found.values as { value: number; labels: Record<string, string | number> }[])
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((n, v) => n + v.value, 0);
}

/** Sum of a metric's samples in Prometheus text (a child process's /metrics). */
export function metricFromText(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Messages in the topic: the sum of its partitions' high watermarks (offsets start at 0 here). */
export async function topicEnd(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high), 0);
}

/** Offsets stored with the counts, summed over partitions. */
export async function committedTotal(pool: pg.Pool): Promise<number> {
  const { rows } = await pool
    .query<{ total: string | null }>('SELECT sum(next_offset)::text AS total FROM adclick.consumer_offsets')
    .catch(() => ({ rows: [{ total: null }] }));
  return Number(rows[0]?.total ?? 0);
}

/** Waits until the aggregator has stored offsets for everything in the topic. */
export async function waitAllCommitted(pool: pg.Pool, admin: Admin, topic: string, timeoutMs = 120_000) {
  const end = await topicEnd(admin, topic);
  await waitFor(
    `offsets committed up to ${end}`,
    async () => (await committedTotal(pool)) === end,
    timeoutMs,
  );
  return end;
}

/** Stored counts of a roll-up, keyed `adId|ISO window start`. */
export async function storedCounts(
  pool: pg.Pool,
  table: 'minute' | 'hour' | 'day',
): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ ad_id: string; window_start: Date; clicks: string }>(
    `SELECT ad_id, window_start, clicks::text FROM adclick.clicks_${table} WHERE clicks > 0`,
  );
  return new Map(rows.map((r) => [`${r.ad_id}|${r.window_start.toISOString()}`, Number(r.clicks)]));
}

export function increment(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** Rolls a minute-keyed map up to hours or days. */
export function rollUp(minutes: Map<string, number>, unitMs: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, n] of minutes) {
    const [ad, iso] = key.split('|') as [string, string];
    const t = Date.parse(iso);
    increment(out, `${ad}|${new Date(t - (t % unitMs)).toISOString()}`, n);
  }
  return out;
}

export const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const issuer = new JwtIssuer({ secret: DEV_JWT_SECRET, issuer: 'sdlab-dev-identity', audience: 'sdlab-ads' });

/** An Authorization header with a development token of these scopes. */
export async function bearer(
  scopes: string[],
  subject = 'test-operator',
): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${(await issuer.issue(subject, { scopes })).token}` };
}

/** Headers of an operator: may register ads, read stats and run reconciliations. */
export const ADMIN = await bearer(['admin']);
