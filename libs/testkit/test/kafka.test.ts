import type { Consumer, EachMessagePayload } from 'kafkajs';
import { describe, expect } from 'vitest';
import { test } from '../src/index.ts';

async function consumeUntil(consumer: Consumer, topic: string, count: number): Promise<string[]> {
  const seen: string[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`saw ${seen.length} of ${count} messages`)), 30_000);
    consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ message, partition }: EachMessagePayload) => {
          seen.push(message.value!.toString());
          // Commit explicitly: the offset to resume from is the next one.
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          if (seen.length === count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  return seen;
}

describe('Kafka (real broker, kafkajs client)', () => {
  test('produces, consumes in a group, commits, and resumes from the committed offset after a restart', async ({
    kafka,
  }) => {
    const topic = await kafka.createTopic('clicks', 2);
    const groupId = kafka.groupId('aggregator');
    const producer = kafka.kafka.producer({ idempotent: true });
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: to - from }, (_, i) => ({
          key: `ad-${(from + i) % 3}`,
          value: `m${from + i}`,
        })),
      });

    await send(0, 10);
    const first = kafka.kafka.consumer({ groupId });
    await first.connect();
    const firstBatch = await consumeUntil(first, topic, 10);
    await first.disconnect();

    await send(10, 15);
    const second = kafka.kafka.consumer({ groupId });
    await second.connect();
    const secondBatch = await consumeUntil(second, topic, 5);
    await second.disconnect();
    await producer.disconnect();

    expect(firstBatch.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
    // Only the new messages: nothing committed before the restart is read again.
    expect(secondBatch.sort()).toEqual(['m10', 'm11', 'm12', 'm13', 'm14']);
    const offsets = await kafka.admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(15);
  });

  test('refuses to produce to a topic nobody created (auto-creation is off)', async ({ kafka }) => {
    const producer = kafka.kafka.producer({ retry: { retries: 1 } });
    await producer.connect();
    try {
      await expect(
        producer.send({ topic: `${kafka.groupId('never-created')}`, messages: [{ value: 'x' }] }),
      ).rejects.toThrow();
    } finally {
      await producer.disconnect();
    }
  });
});
