// Every Redis key the service builds. One prefix per deployment (REDIS_KEY_PREFIX), so the
// shortener never meets another service's keys and each test gets its own namespace.

export interface Keys {
  /**
   * The shared ID counter handed out in blocks (INCRBY) [003:1941-1945]; its durable high-water
   * mark is in Postgres (shortener.id_high_water).
   */
  idCounter: string;
  /** Cached mapping for a code: a link, or a short-lived "not found" (negative cache). */
  link(code: string): string;
  /** Held while one instance refreshes a hot code before its cache entry expires. */
  refreshLock(code: string): string;
  /** Unique visitors of a link (HyperLogLog). */
  visitors(code: string): string;
  /** Prefix the rate-limit library builds its per-client bucket keys under. */
  rateLimitPrefix: string;
  /** BullMQ's own prefix for the expiry queue (it appends the queue name and its sub-keys). */
  bullPrefix: string;
}

export function createKeys(prefix: string): Keys {
  return {
    idCounter: `${prefix}ids:counter`,
    link: (code) => `${prefix}link:${code}`,
    refreshLock: (code) => `${prefix}lock:refresh:${code}`,
    visitors: (code) => `${prefix}visitors:${code}`,
    rateLimitPrefix: `${prefix}rl:`,
    bullPrefix: `${prefix}bull`,
  };
}
