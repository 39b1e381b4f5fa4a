import { describe, expect, it } from 'vitest';
import {
  connectionVisitorId,
  LinkClicksBuilder,
  MAX_CLICKS_PER_MESSAGE,
  parseClicks,
  parseClickTallies,
  visitorId,
} from './clicks.ts';

const click = (code: string) => ({ code, at: 1_767_225_600_000, visitor: 'abcdefgh12345678' });
const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseClicks', () => {
  it('reads a packed message (one flush of one partition) and the older one-click message', () => {
    expect(parseClicks(encode([click('a1'), click('b2')]))).toEqual({
      clicks: [click('a1'), click('b2')],
      invalid: 0,
    });
    expect(parseClicks(encode(click('c3')))).toEqual({ clicks: [click('c3')], invalid: 0 });
  });

  it('skips and counts malformed clicks, keeping the good ones of the same message', () => {
    const bad = [{ ...click('x'), at: 'yesterday' }, { code: 'y'.repeat(33), at: 1, visitor: 'v' }, null, 7];
    expect(parseClicks(encode([click('ok'), ...bad]))).toEqual({ clicks: [click('ok')], invalid: 4 });
    expect(parseClicks(Buffer.from('{not json'))).toEqual({ clicks: [], invalid: 1 });
    expect(parseClicks(null)).toEqual({ clicks: [], invalid: 1 });
  });

  it('refuses a message with more clicks than one flush can hold', () => {
    const many = Array.from({ length: MAX_CLICKS_PER_MESSAGE + 1 }, () => click('a1'));
    expect(parseClicks(encode(many))).toEqual({ clicks: [], invalid: MAX_CLICKS_PER_MESSAGE + 1 });
  });
});

describe('connectionVisitorId', () => {
  it('is the visitor id of the address and user agent, recomputed when either changes on a connection', () => {
    const socket = {};
    expect(connectionVisitorId(socket, '10.0.0.1', 'ua-1')).toBe(visitorId('10.0.0.1', 'ua-1'));
    expect(connectionVisitorId(socket, '10.0.0.1', 'ua-1')).toBe(visitorId('10.0.0.1', 'ua-1'));
    expect(connectionVisitorId(socket, '10.0.0.1', 'ua-2')).toBe(visitorId('10.0.0.1', 'ua-2'));
    expect(connectionVisitorId(socket, '10.0.0.2', 'ua-2')).toBe(visitorId('10.0.0.2', 'ua-2'));
    expect(connectionVisitorId(socket, '10.0.0.2', undefined)).toBe(visitorId('10.0.0.2', undefined));
    expect(visitorId('10.0.0.1', 'ua-1')).not.toBe(visitorId('10.0.0.1', 'ua-2'));
  });
});

describe("LinkClicks (a link's clicks of one flush, in columns)", () => {
  const traceparent = `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-01`;
  const gather = () => {
    const link = new LinkClicksBuilder('a1', 1_000);
    link.add(1_000, 'v1', undefined);
    link.add(1_007, 'v2', { traceparent });
    link.add(1_003, 'v1', undefined);
    link.add(990, 'v2', undefined); // the clock stepped back: clamped to the first click
    return link;
  };

  it('keeps every click with its time, visitor and trace context', () => {
    expect(parseClicks(encode(gather().records(100)))).toEqual({
      clicks: [
        { code: 'a1', at: 1_000, visitor: 'v1' },
        { code: 'a1', at: 1_007, visitor: 'v2', trace: { traceparent } },
        { code: 'a1', at: 1_003, visitor: 'v1' },
        { code: 'a1', at: 1_000, visitor: 'v2' },
      ],
      invalid: 0,
    });
  });

  it('is counted per link: clicks, latest time, distinct visitors, trace contexts', () => {
    expect(parseClickTallies(encode([...gather().records(100), click('b2')]))).toEqual({
      tallies: [
        { code: 'a1', count: 4, lastAt: 1_007, visitors: ['v1', 'v2'], traces: [{ traceparent }] },
        { code: 'b2', count: 1, lastAt: click('b2').at, visitors: [click('b2').visitor], traces: [] },
      ],
      invalid: 0,
    });
  });

  it('is cut into records of a bounded number of clicks, losing none', () => {
    const pieces = gather().records(3);
    expect(pieces.map((p) => p.dt.length)).toEqual([3, 1]);
    expect(parseClicks(encode(pieces)).clicks).toEqual(parseClicks(encode(gather().records(100))).clicks);
  });

  it('skips and counts malformed columns by their clicks', () => {
    const good = gather().records(100)[0]!;
    const bad = [
      { ...good, v: [0, 0, 5, 0] }, // a visitor index out of range
      { ...good, dt: [0, -1, 2, 3] }, // a negative offset
      { ...good, v: [0] }, // columns of different lengths
      { ...good, traces: [[9, { traceparent }]] }, // a trace of no click
    ];
    expect(parseClickTallies(encode([good, ...bad]))).toMatchObject({ tallies: [{ count: 4 }], invalid: 16 });
    const tooMany = {
      ...good,
      dt: Array(MAX_CLICKS_PER_MESSAGE + 1).fill(0),
      v: Array(MAX_CLICKS_PER_MESSAGE + 1).fill(0),
    };
    expect(parseClickTallies(encode([tooMany]))).toEqual({
      tallies: [],
      invalid: MAX_CLICKS_PER_MESSAGE + 1,
    });
  });
});
