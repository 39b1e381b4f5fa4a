import { type PartitionerArgs, Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KeyedPartitioner } from './keyed-partitioner.ts';

const metadata = (n: number): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

describe('keyed partitioner', () => {
  it("puts every key on kafkajs' default (murmur2) partition, also after the partition count changes", () => {
    const remembered = KeyedPartitioner();
    const murmur2 = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 500 }, (_, i) => `ad-${i}`);
    for (const partitions of [12, 12, 7, 12]) {
      for (const key of [...keys, ...keys]) {
        const args = {
          topic: 'clicks',
          partitionMetadata: metadata(partitions),
          message: { key, value: 'v' },
        };
        expect(remembered(args)).toBe(murmur2(args));
      }
    }
    const explicit = {
      topic: 'clicks',
      partitionMetadata: metadata(12),
      message: { key: 'ad-1', value: 'v', partition: 5 },
    };
    expect(remembered(explicit)).toBe(5);
  });
});
