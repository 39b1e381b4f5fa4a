import { describe, expect, it } from 'vitest';
import type { ClickEvent } from './click-event.ts';
import { MINUTE_MS, PartitionWindows, windowStart } from './windows.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const LATENESS = 5 * MINUTE_MS;
const click = (clickedAt: number, n = 0): ClickEvent => ({
  impressionId: `imp-${n}`,
  adId: 'ad',
  campaignId: 'c',
  clickedAt,
  dedup: 'redis',
});

describe('tumbling windows with a watermark', () => {
  it('puts an event in the minute that contains it', () => {
    expect(windowStart(T0)).toBe(T0);
    expect(windowStart(T0 + 59_999)).toBe(T0);
    expect(windowStart(T0 + 60_000)).toBe(T0 + MINUTE_MS);
  });

  it('counts in-order and slightly late events, dead-letters those beyond the lateness', () => {
    const w = new PartitionWindows(0, null, LATENESS);
    expect(w.add(0, click(T0 + 10 * MINUTE_MS)).disposition).toBe('on_time');
    expect(w.watermark).toBe(T0 + 5 * MINUTE_MS);
    // Out of order but within its own (still open) minute.
    expect(w.add(1, click(T0 + 10 * MINUTE_MS - 1)).disposition).toBe('late_counted');
    expect(w.add(2, click(T0 + 10 * MINUTE_MS + 5)).disposition).toBe('on_time');
    // 4 minutes behind the newest event: its window is past but still correctable.
    expect(w.add(3, click(T0 + 6 * MINUTE_MS)).disposition).toBe('late_counted');
    // Exactly at the watermark is still in; one ms before it is out.
    expect(w.add(4, click(T0 + 5 * MINUTE_MS + 5)).disposition).toBe('late_counted');
    expect(w.add(5, click(T0 + 5 * MINUTE_MS + 4)).disposition).toBe('dead_letter');
    const flush = w.snapshot();
    expect(flush.clicks.map((c) => c.deadLettered)).toEqual([false, false, false, false, false, true]);
    expect(flush.deadLetters).toHaveLength(1);
    expect(flush.deadLetters[0]).toMatchObject({ offset: 5, reason: 'too_late', lagMs: LATENESS + 1 });
    expect(flush.nextOffset).toBe(6);
  });

  it('restores the watermark from the committed state, so a replay decides the same way', () => {
    const events = [T0 + 10 * MINUTE_MS, T0, T0 + 9 * MINUTE_MS, T0 + 4 * MINUTE_MS, T0 + 11 * MINUTE_MS];
    const first = new PartitionWindows(3, null, LATENESS);
    const decisions = events.map((t, i) => first.add(i, click(t, i)).disposition);

    // A crash after the first two: the new owner starts from the stored state.
    const replay = new PartitionWindows(3, null, LATENESS);
    replay.add(0, click(events[0]!, 0));
    replay.add(1, click(events[1]!, 1));
    const stored = replay.snapshot();
    const resumed = new PartitionWindows(
      3,
      { nextOffset: stored.nextOffset, maxEventTime: stored.maxEventTime },
      LATENESS,
    );
    const again = events.slice(2).map((t, i) => resumed.add(i + 2, click(t, i + 2)).disposition);
    expect(again).toEqual(decisions.slice(2));
    expect(decisions).toEqual(['on_time', 'dead_letter', 'late_counted', 'dead_letter', 'on_time']);
  });

  it('keeps what arrived after a snapshot when that snapshot commits', () => {
    const w = new PartitionWindows(0, { nextOffset: 100, maxEventTime: null }, LATENESS);
    expect(w.dirty).toBe(false);
    w.add(100, click(T0));
    const flush = w.snapshot();
    w.add(101, click(T0 + 1));
    w.addMalformed(102, null, Buffer.from('nope'));
    w.committed(flush);
    const next = w.snapshot();
    expect(next.baseOffset).toBe(101);
    expect(next.nextOffset).toBe(103);
    expect(next.clicks.map((c) => c.offset)).toEqual([101]);
    expect(next.deadLetters.map((d) => d.reason)).toEqual(['malformed']);
  });
});
