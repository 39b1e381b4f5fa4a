import { parseRules, RateLimiter } from '@sdlab/rate-limit';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { SEND_RULE } from './chat-service.ts';

export interface SendLimiterDeps {
  redis: Redis;
  config: Pick<
    Config,
    'SEND_RATE_CAPACITY' | 'SEND_RATE_REFILL_PER_S' | 'RATE_LIMIT_TIMEOUT_MS' | 'RATE_LIMIT_LOCAL_KEYS'
  >;
  keyPrefix: string;
  registry?: Registry;
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * The per-connection send limit. Shared by all instances through Redis; if Redis fails, each
 * instance limits its own connections in memory (local-fallback), which is exact here since a
 * connection lives on one instance — as long as the in-memory table holds an entry for every
 * connection the instance may carry (RATE_LIMIT_LOCAL_KEYS, 65,536 by default: 65K connections
 * per gateway [004:1196]). With the library's default of 10,000, a gateway holding more sockets
 * evicted live connections' counts during an outage, and each evicted connection started again
 * with a full bucket.
 */
export function createSendLimiter(deps: SendLimiterDeps): RateLimiter {
  const { config } = deps;
  return new RateLimiter({
    redis: deps.redis,
    rules: parseRules([
      {
        name: SEND_RULE,
        algorithm: 'token-bucket',
        capacity: config.SEND_RATE_CAPACITY,
        refillPerSec: config.SEND_RATE_REFILL_PER_S,
        failurePolicy: 'local-fallback',
        description: 'send and typing frames per WebSocket connection',
      },
    ]),
    keys: deps.keyPrefix,
    breaker: { timeoutMs: config.RATE_LIMIT_TIMEOUT_MS },
    maxLocalKeys: config.RATE_LIMIT_LOCAL_KEYS,
    ...(deps.registry ? { registry: deps.registry } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}
