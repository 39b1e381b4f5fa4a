import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaFixture, PgFixture, RedisFixture } from '@sdlab/testkit';

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

type Servers = { pg: PgFixture; redis: RedisFixture; kafka: KafkaFixture };

/** One test's topics, spool directory and service environment (SPOOL_DIR set) on its own servers. */
export async function spooledEnv(f: Servers, partitions: number, overrides: Record<string, string> = {}) {
  const topics = await createTopics(f.kafka, partitions);
  const spool = spoolDir();
  return { topics, spool, env: adClickEnv(f, topics, { SPOOL_DIR: spool.dir, ...overrides }) };
}

/** The service's environment on this test's own database, key prefix, topics and group. */
export function adClickEnv(
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
