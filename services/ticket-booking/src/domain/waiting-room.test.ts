import { describe, expect, it } from 'vitest';
import { estimateWaitSeconds } from './waiting-room.ts';

describe('estimateWaitSeconds', () => {
  it('is position / batch * interval, rounded up to whole ticks', () => {
    // The seeds' example: position 234,567 at 1000 per 10 s is ~39 minutes [004:1153].
    expect(estimateWaitSeconds(234_567, 1000, 10_000)).toBe(2350);
    expect(estimateWaitSeconds(1, 1000, 10_000)).toBe(10);
    expect(estimateWaitSeconds(1000, 1000, 10_000)).toBe(10);
    expect(estimateWaitSeconds(1001, 1000, 10_000)).toBe(20);
  });
});
