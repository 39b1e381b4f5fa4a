// Every Redis key the service builds. One prefix per deployment (REDIS_KEY_PREFIX), so the
// aggregator never meets another service's keys and each test gets its own namespace.

export type Granularity = 'minute' | 'hour' | 'day';

export interface Keys {
  /** Set NX EX 3600 on the first click of an impression; later clicks find it [004:1228]. */
  dedup(impressionId: string): string;
  /** Top-K sorted set of one window: member ad id, score its count. */
  topK(granularity: Granularity, windowStart: number): string;
  /** BullMQ's own prefix for the reconciliation queue (it appends the queue name and its sub-keys). */
  bullPrefix: string;
}

export function createKeys(prefix: string): Keys {
  return {
    dedup: (impressionId) => `${prefix}dedup:${impressionId}`,
    topK: (granularity, windowStart) => `${prefix}topk:${granularity}:${new Date(windowStart).toISOString()}`,
    bullPrefix: `${prefix}bull`,
  };
}
