import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { SessionRegistry } from '../src/domain/session-registry.ts';
import { createKeys } from '../src/keys.ts';
import { defineScripts, SCRIPT_NAMES } from '../src/scripts/index.ts';

// The registry's Lua scripts on real Redis, with a clock the test moves.

describe('connection registry scripts', () => {
  test('claim, refresh and release keep the newest connection of a device', async ({ redis }) => {
    expect(SCRIPT_NAMES.sort()).toEqual(['claimSession-2', 'refreshSession-2', 'releaseSession-2']);
    defineScripts(redis.client);
    let now = 1_000_000;
    const keys = createKeys(redis.prefix);
    const registry = (instanceId: string) =>
      new SessionRegistry({
        redis: redis.client,
        keys,
        instanceId,
        ttlMs: 70_000,
        lastSeenTtlS: 3600,
        maxDevices: 2,
        now: () => now,
      });
    const gw1 = registry('gw1');
    const gw2 = registry('gw2');
    const phoneOnGw1 = { userId: 'alice', deviceId: 'phone', connectionId: 'c1' };
    const phoneOnGw2 = { userId: 'alice', deviceId: 'phone', connectionId: 'c2' };

    expect(await gw1.claim(phoneOnGw1)).toEqual({ ok: true });
    // The same device connects again elsewhere: the old connection is named so it can be closed.
    expect(await gw2.claim(phoneOnGw2)).toEqual({
      ok: true,
      previous: { deviceId: 'phone', instanceId: 'gw1', connectionId: 'c1', expiresAtMs: 1_070_000 },
    });
    // The old connection's heartbeat and close leave the new entry alone.
    expect(await gw1.refresh([phoneOnGw1])).toEqual([false]);
    await gw1.release(phoneOnGw1);
    expect((await gw1.locate(['alice'])).get('alice')).toEqual([
      { deviceId: 'phone', instanceId: 'gw2', connectionId: 'c2', expiresAtMs: 1_070_000 },
    ]);
    expect(await redis.client.pttl(keys.sessions('alice'))).toBeGreaterThan(60_000);

    // A heartbeat moves the expiry on; an entry past it is skipped by readers and pruned by claims.
    now += 30_000;
    expect(await gw2.refresh([phoneOnGw2])).toEqual([true]);
    expect((await gw1.locate(['alice'])).get('alice')?.[0]?.expiresAtMs).toBe(1_100_000);
    expect(await gw1.claim({ userId: 'alice', deviceId: 'laptop', connectionId: 'c3' })).toEqual({
      ok: true,
    });
    // Two live devices is this test's bound: a third is refused...
    expect(await gw1.claim({ userId: 'alice', deviceId: 'tablet', connectionId: 'c4' })).toEqual({
      ok: false,
    });
    // ...until one of them stops heartbeating (gw2 died) and its entry expires.
    now += 71_000;
    expect(await gw1.refresh([{ userId: 'alice', deviceId: 'laptop', connectionId: 'c3' }])).toEqual([true]);
    expect(await gw1.claim({ userId: 'alice', deviceId: 'tablet', connectionId: 'c4' })).toEqual({
      ok: true,
    });
    expect(Object.keys(await redis.client.hgetall(keys.sessions('alice'))).sort()).toEqual([
      'laptop',
      'tablet',
    ]);

    const [presence] = await gw1.presence(['alice']);
    expect(presence).toEqual({
      userId: 'alice',
      online: true,
      devices: 2,
      lastSeenAt: new Date(now).toISOString(),
    });
    await gw1.release({ userId: 'alice', deviceId: 'laptop', connectionId: 'c3' });
    now += 5000;
    await gw1.release({ userId: 'alice', deviceId: 'tablet', connectionId: 'c4' });
    expect(await gw1.presence(['alice'])).toEqual([
      { userId: 'alice', online: false, devices: 0, lastSeenAt: new Date(now).toISOString() },
    ]);
  });
});
