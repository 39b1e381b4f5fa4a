import { describe, expect, it } from 'vitest';
import { SendQueue, type SendTarget } from './send-queue.ts';

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

describe('send queue (per socket, bounded in frames and bytes)', () => {
  it('writes straight through while the socket drains', () => {
    const { target, sent } = fakeSocket();
    const sendQueue = new SendQueue(target, {
      highWaterBytes: 10,
      maxQueued: 2,
      maxQueuedBytes: 1_000_000,
      onOverflow: () => {},
    });
    sendQueue.send('aaaa');
    target.complete();
    sendQueue.send('bbbb');
    expect(sent).toEqual(['aaaa', 'bbbb']);
    expect(sendQueue.depth).toBe(0);
  });

  it('queues above the high-water mark and moves on as writes complete, in order', () => {
    const { target, sent } = fakeSocket();
    const sendQueue = new SendQueue(target, {
      highWaterBytes: 10,
      maxQueued: 5,
      maxQueuedBytes: 1_000_000,
      onOverflow: () => {},
    });
    for (const frame of ['0123456789', 'b', 'c', 'd']) sendQueue.send(frame);
    expect(sent).toEqual(['0123456789']);
    expect(sendQueue.depth).toBe(3);
    target.complete();
    expect(sent).toEqual(['0123456789', 'b', 'c', 'd']);
    expect(sendQueue.depth).toBe(0);
  });

  it('overflows once, closes, and drops the rest', () => {
    const { target, sent } = fakeSocket();
    let overflows = 0;
    const sendQueue = new SendQueue(target, {
      highWaterBytes: 1,
      maxQueued: 2,
      maxQueuedBytes: 1_000_000,
      onOverflow: () => overflows++,
    });
    const results = ['a', 'b', 'c', 'd', 'e'].map((frame) => sendQueue.send(frame));
    expect(results).toEqual([true, true, true, false, false]);
    expect(overflows).toBe(1);
    expect(sendQueue.closed).toBe(true);
    expect(sendQueue.depth).toBe(0);
    target.complete();
    expect(sent).toEqual(['a']);
  });
});
