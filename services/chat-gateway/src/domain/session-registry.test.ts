import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, liveEntries } from './session-registry.ts';

describe('registry entries', () => {
  it('round-trips an entry', () => {
    const value = encodeEntry({ instanceId: 'gw-1', connectionId: 'c_1-x', expiresAtMs: 1_700_000_070_000 });
    expect(value).toBe('gw-1|c_1-x|1700000070000');
    expect(decodeEntry('phone', value)).toEqual({
      deviceId: 'phone',
      instanceId: 'gw-1',
      connectionId: 'c_1-x',
      expiresAtMs: 1_700_000_070_000,
    });
  });

  it('skips expired and unreadable entries', () => {
    const now = 1000;
    const live = liveEntries({ phone: 'gw-1|a|1500', laptop: 'gw-2|b|999', tablet: 'garbage' }, now);
    expect(live.map((e) => e.deviceId)).toEqual(['phone']);
  });
});
