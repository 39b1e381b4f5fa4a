import { describe, expect, it } from 'vitest';
import { connectionVisitorId, MAX_CLICKS_PER_MESSAGE, parseClicks, visitorId } from './clicks.ts';

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
