import { describe, expect, it } from 'vitest';
import { Outbox, type SendTarget } from './outbox.ts';

/** A socket whose writes complete only when the test says so. */
function fakeSocket() {
  const pending: { frame: string; done: (error?: Error) => void }[] = [];
  const sent: string[] = [];
  const target: SendTarget & { complete(n?: number): void } = {
    get bufferedAmount() {
      return pending.reduce((sum, p) => sum + p.frame.length, 0);
    },
    send(frame, done) {
      sent.push(frame);
      pending.push({ frame, done });
    },
    complete(n = pending.length) {
      for (const p of pending.splice(0, n)) p.done();
    },
  };
  return { target, sent };
}

describe('outbox (bounded send queue)', () => {
  it('writes straight through while the socket drains', () => {
    const { target, sent } = fakeSocket();
    const outbox = new Outbox(target, {
      highWaterBytes: 10,
      maxQueued: 2,
      maxQueuedBytes: 1_000_000,
      onOverflow: () => {},
    });
    outbox.send('aaaa');
    target.complete();
    outbox.send('bbbb');
    expect(sent).toEqual(['aaaa', 'bbbb']);
    expect(outbox.depth).toBe(0);
  });

  it('queues above the high-water mark and moves on as writes complete, in order', () => {
    const { target, sent } = fakeSocket();
    const outbox = new Outbox(target, {
      highWaterBytes: 10,
      maxQueued: 5,
      maxQueuedBytes: 1_000_000,
      onOverflow: () => {},
    });
    for (const frame of ['0123456789', 'b', 'c', 'd']) outbox.send(frame);
    expect(sent).toEqual(['0123456789']);
    expect(outbox.depth).toBe(3);
    target.complete();
    expect(sent).toEqual(['0123456789', 'b', 'c', 'd']);
    expect(outbox.depth).toBe(0);
  });

  it('overflows once, closes, and drops the rest', () => {
    const { target, sent } = fakeSocket();
    let overflows = 0;
    const outbox = new Outbox(target, {
      highWaterBytes: 1,
      maxQueued: 2,
      maxQueuedBytes: 1_000_000,
      onOverflow: () => overflows++,
    });
    const results = ['a', 'b', 'c', 'd', 'e'].map((frame) => outbox.send(frame));
    expect(results).toEqual([true, true, true, false, false]);
    expect(overflows).toBe(1);
    expect(outbox.closed).toBe(true);
    expect(outbox.depth).toBe(0);
    target.complete();
    expect(sent).toEqual(['a']);
  });
});
