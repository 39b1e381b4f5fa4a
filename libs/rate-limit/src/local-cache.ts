import { LRUCache } from 'lru-cache';
import type { Outcome } from './decision.ts';
import type { Rule } from './rules.ts';

/**
 * Commits `units` this instance already admitted to the shared count in Redis (unconditionally)
 * and returns the count's state afterwards. `units` = 0 only reads it.
 */
export type Commit = (rule: Rule, subject: string, units: number) => Promise<Outcome>;

interface Entry {
  /** Units the shared count had left at the last sync, this instance's own commits included. */
  remaining: number;
  /** Units admitted here since that sync, not yet in Redis. */
  pending: number;
  syncedAt: number;
  validUntil: number;
  resetMs: number;
  syncing: Promise<Entry> | undefined;
}

/**
 * Hot-key mode ("local cache + periodic sync" [003:3073]): an instance admits up to `share` units of
 * a key from memory, then syncs: it commits what it admitted and reads how much the whole fleet has
 * left. A flood on one key then costs one Redis call per `share` admissions (or per `syncMs`), and
 * denials cost none until the next sync.
 *
 * Bound: per window, at most (N - 1) x share units beyond the limit, for N instances. Each instance
 * admits only while its last view of the shared count plus its own unsynced admissions stays within
 * the limit, and at most `share` between syncs. Take the last sync anyone made before admitting: its
 * view included every unit committed so far, so what the fleet admits in total is at most that view,
 * plus that instance's own share, plus the at most `share` units each of the other N - 1 held
 * unsynced at that moment. Exact mode's bound is 0. Measured in
 * services/rate-limiter/test/limiter-accuracy.test.ts.
 *
 * Never under-admits within a window: a view can only overstate what is left, because the shared
 * count only grows until the window moves on.
 */
export class LocalCache {
  readonly #commit: Commit;
  readonly #now: () => number;
  readonly #entries: LRUCache<string, Entry>;
  readonly #rules = new Map<string, Rule>();
  readonly #flushEveryMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: { commit: Commit; maxKeys?: number; now?: () => number; flushEveryMs?: number }) {
    this.#commit = options.commit;
    this.#now = options.now ?? Date.now;
    this.#entries = new LRUCache<string, Entry>({
      max: options.maxKeys ?? 10_000,
      // An evicted entry's admissions still belong in the shared count.
      dispose: (entry, key, reason) => {
        if (reason === 'evict' && entry.pending > 0) this.#commitQuietly(key, entry.pending);
      },
    });
    this.#flushEveryMs = options.flushEveryMs ?? 50;
  }

  async take(rule: Rule, subject: string, cost: number): Promise<Outcome> {
    // The flush timer runs only while entries exist: always on, it woke every limiter's process 20
    // times a second, hot-key rules or not (the url-shortener's idle API: 20 of its 30 wake-ups/s).
    if (this.#timer === undefined && !this.#closed) {
      this.#timer = setInterval(() => this.flushDue(), this.#flushEveryMs);
      this.#timer.unref();
    }
    const key = `${rule.name}\u0000${subject}`;
    this.#rules.set(rule.name, rule);
    const share = rule.localCache!.share;
    let entry = this.#entries.get(key);
    // Each pass either decides or waits for a sync that resets `pending`; a few passes suffice even
    // when many requests wait on the same sync and the first of them use the share up again.
    for (let pass = 0; pass < 8; pass += 1) {
      const now = this.#now();
      if (entry && !entry.syncing && now < entry.validUntil) {
        const left = entry.remaining - entry.pending;
        if (left < cost) return denied(rule, entry, now, left, cost);
        if (entry.pending + cost <= share) {
          entry.pending += cost;
          return {
            allowed: true,
            remaining: left - cost,
            resetMs: Math.max(0, entry.resetMs - (now - entry.syncedAt)),
            retryAfterMs: 0,
          };
        }
      }
      entry = await this.#sync(key, rule, subject, entry);
    }
    return denied(rule, entry!, this.#now(), 0, cost);
  }

  /** Commits what every expired entry admitted and drops idle ones; runs on a timer. */
  flushDue(): void {
    const now = this.#now();
    // Collected first: deleting from an lru-cache while iterating it is not safe.
    for (const [key, entry] of [...this.#entries.entries()]) {
      if (entry.syncing || now < entry.validUntil) continue;
      if (entry.pending === 0) this.#entries.delete(key);
      else {
        const rule = this.#rules.get(key.slice(0, key.indexOf('\u0000')));
        if (rule) this.#sync(key, rule, key.slice(key.indexOf('\u0000') + 1), entry).catch(() => undefined);
      }
    }
    if (this.#entries.size === 0) this.#stopTimer();
  }

  /** Whether the flush timer is running (it runs only while entries exist). */
  get flushing(): boolean {
    return this.#timer !== undefined;
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Commits everything pending (on shutdown, so no admitted unit is lost from the shared count). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    const pending = [...this.#entries.entries()].filter(([, e]) => e.pending > 0 && !e.syncing);
    await Promise.allSettled(pending.map(([key, entry]) => this.#commitQuietly(key, entry.pending)));
    this.#entries.clear();
  }

  /** Single flight per key: concurrent callers share one Redis round trip. */
  #sync(key: string, rule: Rule, subject: string, previous: Entry | undefined): Promise<Entry> {
    if (previous?.syncing) return previous.syncing;
    // The first request for a key parks a placeholder, so the ones right behind it wait on its sync.
    const current = previous ?? placeholder();
    const units = current.pending;
    const syncing = this.#commit(rule, subject, units).then(
      (state) => {
        const now = this.#now();
        const { syncMs } = rule.localCache!;
        // A fixed window's count restarts at its edge: look again then, not a full syncMs later.
        const ttl =
          rule.algorithm === 'fixed-window' && state.resetMs > 0 ? Math.min(syncMs, state.resetMs) : syncMs;
        const entry: Entry = {
          remaining: state.remaining,
          pending: 0,
          syncedAt: now,
          validUntil: now + ttl,
          resetMs: state.resetMs,
          syncing: undefined,
        };
        this.#entries.set(key, entry);
        return entry;
      },
      (error: unknown) => {
        // Keep the admissions for the next attempt; the caller applies the rule's failure policy.
        current.syncing = undefined;
        if (!previous && this.#entries.peek(key) === current) this.#entries.delete(key);
        throw error;
      },
    );
    current.syncing = syncing;
    if (!previous) this.#entries.set(key, current);
    return syncing;
  }

  #commitQuietly(key: string, units: number): Promise<unknown> {
    const rule = this.#rules.get(key.slice(0, key.indexOf('\u0000')));
    if (!rule) return Promise.resolve();
    return this.#commit(rule, key.slice(key.indexOf('\u0000') + 1), units).catch(() => undefined);
  }
}

function placeholder(): Entry {
  return { remaining: 0, pending: 0, syncedAt: 0, validUntil: 0, resetMs: 0, syncing: undefined };
}

function denied(rule: Rule, entry: Entry, now: number, left: number, cost: number): Outcome {
  const resetMs = Math.max(0, entry.resetMs - (now - entry.syncedAt));
  // From a view a local decision cannot know exactly when units free up: a bucket refills at a known
  // rate; for windows the time until the view's reset is an upper bound.
  const retryAfterMs =
    rule.algorithm === 'token-bucket'
      ? Math.ceil(((cost - Math.max(0, left)) / rule.refillPerSec) * 1000)
      : Math.max(1, resetMs);
  return { allowed: false, remaining: Math.max(0, left), resetMs, retryAfterMs };
}
