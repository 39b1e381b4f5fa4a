import { type Context, context } from '@opentelemetry/api';
import type { Redis } from 'ioredis';

// The ingest's first layer of dedup (`SET <key> 1 NX EX <ttl>` per click), batched like the spool's
// group commit: the keys of every click that arrives while one call is in flight go together in
// the next call, one EVALSHA of markFirstClicks-N.lua. A click costs the client one array slot and
// one promise instead of an ioredis command of its own (auto-pipelining shares the socket write,
// not the per-command work). One call in flight at a time keeps the answers in click order.
//
// Cost: a Lua script over many keys needs them on one Redis node (the service runs one Redis; a
// cluster would need the keys hash-tagged to one slot, or one call per slot).

interface Waiting {
  key: string;
  /** The click's trace context: a call runs in its first click's, so that trace shows the Redis call. */
  context: Context;
  resolve: (first: boolean) => void;
  reject: (error: unknown) => void;
}

export interface DedupBatchOptions {
  /** Called after each call with the number of keys it carried. */
  onBatch?: (keys: number) => void;
  /** Keys per call at most; the rest go in the next one. */
  maxKeys?: number;
}

export class DedupBatch {
  readonly #redis: Redis;
  readonly #ttlS: number;
  readonly #options: DedupBatchOptions;
  #queue: Waiting[] = [];
  #busy = false;

  constructor(redis: Redis, ttlS: number, options: DedupBatchOptions = {}) {
    this.#redis = redis;
    this.#ttlS = ttlS;
    this.#options = options;
  }

  /**
   * True when this is the key's first click in the window (the key is now set), false for a
   * repeat. Rejects when Redis does not answer (the caller decides: the ingest fails open).
   */
  firstClick(key: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ key, context: context.active(), resolve, reject });
      if (!this.#busy) {
        this.#busy = true;
        // The clicks parsed from the same socket reads join this call: it goes out after the
        // current I/O callbacks, as ioredis' auto-pipelining does.
        setImmediate(() => void this.#send());
      }
    });
  }

  async #send(): Promise<void> {
    for (;;) {
      const max = this.#options.maxKeys ?? 1000;
      const batch = this.#queue.length <= max ? this.#queue : this.#queue.slice(0, max);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(max);
      if (batch.length === 0) {
        this.#busy = false;
        return;
      }
      const args: (string | number)[] = new Array(batch.length + 1);
      for (let i = 0; i < batch.length; i++) args[i] = batch[i]!.key;
      args[batch.length] = this.#ttlS;
      try {
        const first = await context.with(batch[0]!.context, () =>
          this.#redis.markFirstClicks(batch.length, ...args),
        );
        // An answer of another shape must not turn clicks into repeats (they would be lost).
        if (!Array.isArray(first) || first.length !== batch.length) {
          throw new Error(`markFirstClicks answered ${String(first).slice(0, 40)} for ${batch.length} keys`);
        }
        this.#options.onBatch?.(batch.length);
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(first[i] === 1);
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
  }
}
