import type { KafkaFixture, PgFixture, RedisFixture } from '@sdlab/testkit';
import { expect } from 'vitest';
import { ClickPlan } from './click-plan.ts';
import { rollUp, sorted, storedCounts } from './counts.ts';
import { adClickEnv, createTopics, type Topics } from './env.ts';
import { waitAllCommitted } from './offsets.ts';

const MIN = 60_000;

type Servers = { pg: PgFixture; redis: RedisFixture; kafka: KafkaFixture };

/**
 * Flushes by size alone, every 1,000 consumed messages: the interval (an hour) never fires within
 * a test, so what is committed at any moment follows from what was consumed.
 */
export const SIZE_FLUSH_ONLY = { FLUSH_MAX_EVENTS: '1000', FLUSH_INTERVAL_MS: '3600000' } as const;

/**
 * A test's click stream: its own topics and service environment (adClickEnv), an empty plan of
 * clicks of known fate and a connected producer, which the caller disconnects.
 */
export async function clickStream(f: Servers, partitions: number, overrides: Record<string, string> = {}) {
  const topics = await createTopics(f.kafka, partitions);
  const env = adClickEnv(f, topics, overrides);
  const producer = f.kafka.kafka.producer();
  await producer.connect();
  return { topics, env, plan: new ClickPlan(), producer };
}

/**
 * The end state a stream test asserts: every produced message committed, the minute counts and
 * one roll-up exactly the plan's, every too-late click stored once as late. Returns the committed
 * end and the expected minute counts.
 */
export async function expectExactCounts(
  f: Pick<Servers, 'pg' | 'kafka'>,
  topics: Topics,
  plan: ClickPlan,
  rolledUp: 'hour' | 'day',
): Promise<{ end: number; expected: Map<string, number> }> {
  const end = await waitAllCommitted(f.pg.pool, f.kafka.admin, topics.clicks);
  expect(end).toBe(plan.messages.length);
  const expected = plan.expected();
  expect(sorted(await storedCounts(f.pg.pool, 'minute'))).toEqual(sorted(expected));
  const unit = rolledUp === 'hour' ? 60 * MIN : 1440 * MIN;
  expect(sorted(await storedCounts(f.pg.pool, rolledUp))).toEqual(sorted(rollUp(expected, unit)));
  const late = await f.pg.pool.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM adclick.raw_clicks WHERE late',
  );
  expect(Number(late.rows[0]!.n)).toBe(plan.tooLate);
  return { end, expected };
}
