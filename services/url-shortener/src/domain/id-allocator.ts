import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { ShortenerErrors } from '../errors.ts';
import { reseedIdCounter, reserveIdBlock } from '../scripts/index.ts';
import type { ServiceMetrics } from '../telemetry.ts';
import type { IdHighWater } from './id-high-water.ts';

interface Block {
  next: number;
  end: number;
}

/**
 * Blocks in a row the high-water mark may refuse before a refill gives up (503). Each refusal
 * means another instance recorded a block meanwhile, or Redis was behind and has been reseeded,
 * so a long run of them is a fault, not contention.
 */
const MAX_REFUSED_BLOCKS = 10;

/**
 * Hands out counter values from blocks reserved with one `INCRBY <size>` on a shared Redis
 * counter [003:1941-1945]: instances never hand out the same value, and Redis is asked once per
 * block instead of once per link. The next block is fetched in the background once `refillAt` of
 * what is in hand is left, so a create rarely waits on Redis. Values of a block an instance never
 * used (a restart) are simply skipped: gaps cost nothing, reuse would.
 *
 * Redis can lose the counter (a restart without persistence, a failover to a replica that lagged)
 * and would then hand out values again. So a block is recorded in Postgres (`IdHighWater.claim`)
 * before its first value is used, and only if it starts at or past every block recorded before
 * it; a block Redis gave out from behind is refused and skipped. The instance keeps a floor (the
 * highest block end it has recorded or seen recorded); a counter found below it, or missing, is
 * raised to the Postgres mark before the next block is taken.
 */
export class IdAllocator {
  readonly #redis: Redis;
  readonly #highWater: IdHighWater;
  readonly #counterKey: string;
  readonly #blockSize: number;
  readonly #refillBelow: number;
  readonly #metrics: ServiceMetrics;
  readonly #log: Pick<FastifyBaseLogger, 'warn'>;
  /** Reserved blocks in the order they were taken; values come from the first. */
  readonly #blocks: Block[] = [];
  #refill: Promise<void> | undefined;
  /** The counter may not be below this: the highest block end recorded by or shown to this instance. */
  #floor = 0;

  constructor(options: {
    redis: Redis;
    highWater: IdHighWater;
    counterKey: string;
    blockSize: number;
    refillAt: number;
    metrics: ServiceMetrics;
    log: Pick<FastifyBaseLogger, 'warn'>;
  }) {
    this.#redis = options.redis;
    this.#highWater = options.highWater;
    this.#counterKey = options.counterKey;
    this.#blockSize = options.blockSize;
    this.#refillBelow = Math.floor(options.blockSize * options.refillAt);
    this.#metrics = options.metrics;
    this.#log = options.log;
  }

  /**
   * Start-up: the Postgres mark becomes the floor. A mark below the counter Redis holds is raised
   * to it first: a deployment upgraded to this version starts with a mark of 0 while its Redis
   * still has the real counter.
   */
  async start(): Promise<void> {
    const [counter, high] = await Promise.all([
      fromRedis(this.#redis.get(this.#counterKey)),
      this.#highWater.read(),
    ]);
    const current = Number(counter ?? 0);
    this.#floor = current > high ? await this.#highWater.raise(current) : high;
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

  // One refill in flight at most; the block is appended in exactly one place, after Postgres
  // recorded it, so a block can never be handed out twice however background and blocking refills
  // interleave, and none whose values another instance may hold.
  #fill(mode: 'background' | 'blocking'): Promise<void> {
    this.#refill ??= (async () => {
      try {
        for (let refused = 0; ; refused++) {
          const end = await this.#reserve();
          const start = end - this.#blockSize;
          const claim = await this.#highWater.claim(start, end);
          if (claim.claimed) {
            this.#floor = Math.max(this.#floor, end);
            this.#blocks.push({ next: start, end });
            this.#metrics.idBlockRefills.inc({ mode });
            return;
          }
          // Another instance recorded a block past this one's start: either its INCRBY came later
          // but its record landed first (the next INCRBY is past it), or Redis is behind (the next
          // reservation finds the counter below the new floor and reseeds it).
          this.#metrics.idBlocksRefused.inc();
          this.#floor = Math.max(this.#floor, claim.high);
          if (refused + 1 >= MAX_REFUSED_BLOCKS) {
            throw new ShortenerErrors.StoreUnavailable('redis', {
              cause: new Error(
                `${MAX_REFUSED_BLOCKS} ID blocks in a row were below the high-water mark ${claim.high}`,
              ),
            });
          }
        }
      } catch (error) {
        this.#metrics.idBlockRefills.inc({ mode: `${mode}_failed` });
        throw error;
      } finally {
        this.#refill = undefined;
      }
    })();
    return this.#refill;
  }

  /** A block's end from Redis, reseeding the counter from the Postgres mark when it is behind. */
  async #reserve(): Promise<number> {
    const key = this.#counterKey;
    const end = await fromRedis(reserveIdBlock(this.#redis, key, this.#blockSize, this.#floor));
    if (end !== undefined) return end;
    // Missing or below the floor: Redis restarted empty or a replica that lagged took over. The
    // Postgres mark covers every block any instance has handed values out of.
    this.#floor = Math.max(this.#floor, await this.#highWater.read());
    const reseeded = await fromRedis(reseedIdCounter(this.#redis, key, this.#blockSize, this.#floor));
    // Another instance may have reseeded it in between; only the one that raised it reports it.
    if (reseeded.before === null || reseeded.before < this.#floor) {
      this.#metrics.idCounterReseeds.inc();
      this.#log.warn(
        { counterKey: key, before: reseeded.before, after: this.#floor },
        'ID counter was missing or behind the high-water mark; raised it to the mark',
      );
    }
    return reseeded.end;
  }
}

/** A Redis call whose failure is the service's 503 (with Retry-After). */
async function fromRedis<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw new ShortenerErrors.StoreUnavailable('redis', { cause: error });
  }
}
