import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Config } from '../src/config.ts';
import { SEND_RULE } from '../src/domain/chat-service.ts';
import { createSendLimiter } from '../src/domain/send-limiter.ts';

// While Redis is away each gateway limits its own connections in memory. That stays exact only if
// the in-memory table has room for every connection the gateway holds: a connection whose entry
// is evicted starts again with a full bucket.
describe('per-connection send limit while Redis is away', () => {
  it('keeps an exhausted connection limited while more connections than the library default send', async () => {
    // A client of a Redis that is not there (nothing listens on port 1): every check fails over.
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    // The shipped defaults, read from the config schema.
    const shipped = (name: keyof typeof Config.properties) =>
      (Config.properties[name] as unknown as { default: number }).default;
    const limiter = createSendLimiter({
      redis,
      keyPrefix: 'chat-test:',
      config: {
        SEND_RATE_CAPACITY: shipped('SEND_RATE_CAPACITY'),
        // Refill is not what this tests: almost none, so the exhausted bucket stays empty.
        SEND_RATE_REFILL_PER_S: 0.001,
        RATE_LIMIT_TIMEOUT_MS: shipped('RATE_LIMIT_TIMEOUT_MS'),
        RATE_LIMIT_LOCAL_KEYS: shipped('RATE_LIMIT_LOCAL_KEYS'),
      },
    });
    try {
      const capacity = shipped('SEND_RATE_CAPACITY');
      for (let i = 0; i < capacity; i++) {
        expect((await limiter.check('conn-flooder', SEND_RULE)).allowed).toBe(true);
      }
      const denied = await limiter.check('conn-flooder', SEND_RULE);
      expect(denied).toMatchObject({ allowed: false, source: 'local-fallback' });
      // 20,000 other connections send one frame each (the library keeps 10,000 keys by default).
      for (let c = 0; c < 20_000; c++) await limiter.check(`conn-${c}`, SEND_RULE);
      expect(await limiter.check('conn-flooder', SEND_RULE)).toMatchObject({
        allowed: false,
        source: 'local-fallback',
      });
    } finally {
      await limiter.close();
      redis.disconnect();
    }
  });
});
