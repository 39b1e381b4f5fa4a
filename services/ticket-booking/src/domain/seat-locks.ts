import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';
import { ScriptCode, scriptFailure } from '../scripts/index.ts';

/** The Redis layer of a hold: one lock per seat, all taken in one script or none. */
export class SeatLocks {
  readonly #redis: Redis;
  readonly #keys: Keys;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Locks every seat for `holdId`, or returns the seats someone else holds (nothing locked). */
  async acquire(
    eventId: string,
    seatIds: number[],
    holdId: string,
    ttlMs: number,
  ): Promise<{ taken: number[] }> {
    const keys = seatIds.map((id) => this.#keys.seatLock(eventId, id));
    const reply = await this.#redis.holdSeats(keys.length, ...keys, holdId, ttlMs);
    if (reply === ScriptCode.BadArgument || !Array.isArray(reply)) throw scriptFailure('holdSeats', reply);
    return { taken: reply.map((position) => seatIds[position - 1]!) };
  }

  /** Releases the locks still owned by `holdId`; returns how many were released. */
  async release(eventId: string, seatIds: number[], holdId: string): Promise<number> {
    if (seatIds.length === 0) return 0;
    const keys = seatIds.map((id) => this.#keys.seatLock(eventId, id));
    return this.#redis.releaseSeats(keys.length, ...keys, holdId);
  }
}
