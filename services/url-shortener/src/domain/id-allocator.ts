import type { Redis } from 'ioredis';
import { storeUnavailable } from '../errors.ts';
import type { ServiceMetrics } from '../telemetry.ts';

interface Block {
  next: number;
  end: number;
}

/**
 * Hands out counter values from blocks reserved with one `INCRBY <size>` on a shared Redis
 * counter [003:1941-1945]: instances never hand out the same value, and Redis is asked once per
 * block instead of once per link. The next block is fetched in the background once `refillAt` of
 * what is in hand is left, so a create rarely waits on Redis. Values of a block an instance never
 * used (a restart) are simply skipped: gaps cost nothing, reuse would.
 */
export class IdAllocator {
  readonly #redis: Redis;
  readonly #counterKey: string;
  readonly #blockSize: number;
  readonly #refillBelow: number;
  readonly #metrics: ServiceMetrics;
  /** Reserved blocks in the order they were taken; values come from the first. */
  readonly #blocks: Block[] = [];
  #refill: Promise<void> | undefined;

  constructor(options: {
    redis: Redis;
    counterKey: string;
    blockSize: number;
    refillAt: number;
    metrics: ServiceMetrics;
  }) {
    this.#redis = options.redis;
    this.#counterKey = options.counterKey;
    this.#blockSize = options.blockSize;
    this.#refillBelow = Math.floor(options.blockSize * options.refillAt);
    this.#metrics = options.metrics;
  }

  async next(): Promise<number> {
    for (;;) {
      const block = this.#blocks[0];
      if (block && block.next < block.end) {
        const value = block.next++;
        if (this.remaining <= this.#refillBelow) {
          this.#fill('background').catch(() => undefined); // counted; the next create retries
        }
        return value;
      }
      if (block) {
        this.#blocks.shift();
        continue;
      }
      // Ran dry before a refill landed (or at start-up): every waiting create shares that one
      // INCRBY instead of each reserving a block.
      await this.#fill('blocking');
    }
  }

  /** Counter values in hand. */
  get remaining(): number {
    return this.#blocks.reduce((sum, b) => sum + (b.end - b.next), 0);
  }

  // One INCRBY in flight at most; the block is appended in exactly one place, so a block can
  // never be handed out twice however background and blocking refills interleave.
  #fill(mode: 'background' | 'blocking'): Promise<void> {
    this.#refill ??= (async () => {
      try {
        const end = await this.#redis.incrby(this.#counterKey, this.#blockSize);
        this.#blocks.push({ next: end - this.#blockSize, end });
        this.#metrics.idBlockRefills.inc({ mode });
      } catch (error) {
        this.#metrics.idBlockRefills.inc({ mode: `${mode}_failed` });
        throw storeUnavailable('redis', error);
      } finally {
        this.#refill = undefined;
      }
    })();
    return this.#refill;
  }
}
