import { describe, expect, it } from 'vitest';
import { bottleneckOf } from '../src/click-drain.ts';

describe('drain bottleneck', () => {
  it('names a saturated worker thread before anything else', () => {
    expect(bottleneckOf({ machineBusy: 0.8, worker: 0.97, postgres: 0.5, kafka: 0.1, redis: 0 }, 2)).toBe(
      'the aggregator worker (one Node thread): 0.97 cores',
    );
  });

  // Recorded: a 200,000-click drain on a machine other work kept 99 % busy.
  it('names the machine when it is full but no single part is', () => {
    expect(
      bottleneckOf({ machineBusy: 0.99, worker: 0.14, postgres: 0.12, kafka: 0.03, redis: 0.01 }, 2),
    ).toBe(
      "the machine's 2 cores (99 % busy; the largest share the aggregator worker (one Node thread), 0.14 cores)",
    );
  });

  it('says the drain waited when nothing was busy', () => {
    expect(bottleneckOf({ machineBusy: 0.4, worker: 0.3, postgres: 0.3, kafka: 0.1, redis: 0 }, 2)).toMatch(
      /^waiting, not CPU/,
    );
  });
});
