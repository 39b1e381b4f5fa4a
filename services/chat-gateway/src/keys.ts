// Every Redis key and channel the gateway builds. One prefix per deployment (REDIS_KEY_PREFIX),
// so the gateway never meets another service's keys and each test gets its own namespace.
// The per-user keys share a `{userId}` hash tag: the session scripts touch both in one call,
// which Redis Cluster allows only within one slot.

export interface Keys {
  /** Connection registry: hash of deviceId -> "instanceId|connectionId|expiresAtMs" [004:1197]. */
  sessions(userId: string): string;
  /** Last time the user was seen connected (ms since epoch), for presence [004:1208]. */
  lastSeen(userId: string): string;
  /** The pub/sub channel one gateway instance listens on [004:1199]. */
  instanceChannel(instanceId: string): string;
  /** Key prefix handed to @sdlab/rate-limit for the per-connection send limit. */
  rateLimitPrefix: string;
  /** BullMQ's own prefix for the retention queue (it appends the queue name and its sub-keys). */
  bullPrefix: string;
}

export function createKeys(prefix: string): Keys {
  return {
    sessions: (userId) => `${prefix}sessions:{${userId}}`,
    lastSeen: (userId) => `${prefix}lastseen:{${userId}}`,
    instanceChannel: (instanceId) => `${prefix}gw:${instanceId}`,
    rateLimitPrefix: `${prefix}rl:`,
    bullPrefix: `${prefix}bull`,
  };
}
