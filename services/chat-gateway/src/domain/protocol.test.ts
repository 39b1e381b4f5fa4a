import { describe, expect, it } from 'vitest';
import { FrameParser } from './protocol.ts';

const parser = new FrameParser({
  maxFrameBytes: 1024,
  maxMessageChars: 20,
  pageMax: 50,
  syncConversationsMax: 3,
});
const conversationId = '0b0e8a47-3c1e-4f5e-9d55-1f3c2b8a9e10';
const parse = (value: unknown, isBinary = false) =>
  parser.parse(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), isBinary);

describe('frame parser (protocol v1)', () => {
  it('accepts each client frame type', () => {
    const frames = [
      { v: 1, type: 'send', conversationId, clientMsgId: 'c-1', text: 'hi', clientTs: 1 },
      { v: 1, type: 'typing', conversationId, state: 'start' },
      { v: 1, type: 'receipt', conversationId, kind: 'read', seq: 3 },
      { v: 1, type: 'sync', conversations: [{ conversationId, afterSeq: 0 }], limit: 10 },
      { v: 1, type: 'ping', id: 'p' },
    ];
    for (const frame of frames) expect(parse(frame)).toEqual({ ok: true, frame });
  });

  it('checks size before anything else', () => {
    expect(parse('x'.repeat(1025))).toMatchObject({ ok: false, code: 'frame_too_large' });
  });

  it('rejects text that is not one JSON object, and binary frames', () => {
    expect(parse('{nope')).toMatchObject({ ok: false, code: 'malformed' });
    expect(parse('[1,2]')).toMatchObject({ ok: false, code: 'malformed' });
    expect(parse('null')).toMatchObject({ ok: false, code: 'malformed' });
    expect(parse({ v: 1, type: 'ping' }, true)).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('names the version, the type, or the first bad field', () => {
    expect(parse({ v: 2, type: 'ping' })).toMatchObject({ code: 'unsupported_version', field: '/v' });
    expect(parse({ v: 1, type: 'shout' })).toMatchObject({ code: 'invalid_frame', field: '/type' });
    expect(parse({ v: 1, type: 'toString' })).toMatchObject({ code: 'invalid_frame', field: '/type' });
    expect(
      parse({ v: 1, type: 'send', conversationId, clientMsgId: 'c-2', text: 'x'.repeat(21) }),
    ).toMatchObject({
      code: 'invalid_frame',
      field: '/text',
      ref: 'c-2',
    });
    expect(parse({ v: 1, type: 'send', conversationId, text: 'hi' })).toMatchObject({
      code: 'invalid_frame',
      field: '/clientMsgId',
    });
    expect(parse({ v: 1, type: 'ping', extra: true })).toMatchObject({
      code: 'invalid_frame',
      field: '/extra',
    });
    expect(
      parse({
        v: 1,
        type: 'sync',
        conversations: Array.from({ length: 4 }, () => ({ conversationId, afterSeq: 0 })),
      }),
    ).toMatchObject({ code: 'invalid_frame', field: '/conversations' });
  });

  it('echoes only a plain reference back', () => {
    const result = parse({ v: 1, type: 'send', conversationId, clientMsgId: '<script>', text: '' });
    expect(result).toMatchObject({ ok: false, code: 'invalid_frame' });
    expect(result).not.toHaveProperty('ref');
  });
});
