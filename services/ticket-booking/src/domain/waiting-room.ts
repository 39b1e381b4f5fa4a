import type { Redis } from 'ioredis';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { BookingErrors } from '../errors.ts';
import type { Keys } from '../keys.ts';

export type RoomState =
  | { status: 'waiting'; position: number; estimatedWaitSeconds: number }
  | { status: 'admitted'; accessToken: string; expiresAt: string };

const ISSUER = 'ticket-booking';
const audience = (eventId: string) => `event:${eventId}`;

/**
 * Virtual waiting room for a hot event [004:1145-1155]: users join a Redis sorted set in arrival
 * order (ZADD NX: a retry or a refresh keeps the place), an admission tick pops N of them per
 * interval, and an admitted user gets a signed access token (HS256, 5 min) that the hold endpoint
 * requires while the room is on. The token is stateless: any instance verifies it without Redis.
 */
export class WaitingRoom {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #secret: Uint8Array;
  readonly #tokenTtlMs: number;
  readonly #batch: number;
  readonly #everyMs: number;

  constructor(deps: {
    redis: Redis;
    keys: Keys;
    secret: string;
    tokenTtlS: number;
    batch: number;
    everyMs: number;
  }) {
    this.#redis = deps.redis;
    this.#keys = deps.keys;
    this.#secret = new TextEncoder().encode(deps.secret);
    this.#tokenTtlMs = deps.tokenTtlS * 1000;
    this.#batch = deps.batch;
    this.#everyMs = deps.everyMs;
  }

  async join(eventId: string, userId: string): Promise<{ state: RoomState; joined: boolean }> {
    const k = this.#keys;
    const [state, value, joined] = await this.#redis.joinQueue(
      k.queue(eventId),
      k.admitted(eventId),
      k.queueSeq(eventId),
      userId,
      Date.now(),
      this.#tokenTtlMs,
    );
    return { state: await this.#toState(eventId, userId, state, value), joined: joined === 1 };
  }

  /** Where the user is now, without joining. */
  async status(eventId: string, userId: string): Promise<RoomState> {
    const k = this.#keys;
    const [admittedAt, rank] = await Promise.all([
      this.#redis.zscore(k.admitted(eventId), userId),
      this.#redis.zrank(k.queue(eventId), userId),
    ]);
    if (admittedAt !== null && Number(admittedAt) + this.#tokenTtlMs > Date.now()) {
      return this.#toState(eventId, userId, 2, Number(admittedAt));
    }
    if (rank === null) throw new BookingErrors.NotInQueue(eventId);
    return this.#toState(eventId, userId, 1, rank + 1);
  }

  /** One admission tick for one room: returns how many were admitted and how many still wait. */
  async admit(eventId: string, n = this.#batch): Promise<{ admitted: number; waiting: number }> {
    const k = this.#keys;
    const [admitted, waiting] = await this.#redis.admitBatch(
      k.queue(eventId),
      k.admitted(eventId),
      n,
      Date.now(),
      this.#tokenTtlMs,
    );
    return { admitted, waiting };
  }

  /** Checks an access token for this event and user; throws a 403 naming what is wrong. */
  async verify(token: string | undefined, eventId: string, userId: string): Promise<void> {
    if (!token) throw new BookingErrors.AccessTokenRequired(eventId);
    try {
      const { payload } = await jwtVerify(token, this.#secret, {
        issuer: ISSUER,
        audience: audience(eventId),
        algorithms: ['HS256'],
      });
      if (payload.sub !== userId) throw new BookingErrors.AccessTokenInvalid('issued to another user');
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new BookingErrors.AccessTokenInvalid('expired; join again');
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        throw new BookingErrors.AccessTokenInvalid(`wrong ${error.claim === 'aud' ? 'event' : error.claim}`);
      }
      if (error instanceof joseErrors.JOSEError)
        throw new BookingErrors.AccessTokenInvalid('bad signature or format');
      throw error;
    }
  }

  async #toState(eventId: string, userId: string, state: number, value: number): Promise<RoomState> {
    if (state === 2) {
      const expiresAtMs = value + this.#tokenTtlMs;
      const accessToken = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setSubject(userId)
        .setAudience(audience(eventId))
        .setIssuedAt(Math.floor(value / 1000))
        .setExpirationTime(Math.floor(expiresAtMs / 1000))
        .sign(this.#secret);
      return { status: 'admitted', accessToken, expiresAt: new Date(expiresAtMs).toISOString() };
    }
    return {
      status: 'waiting',
      position: value,
      estimatedWaitSeconds: estimateWaitSeconds(value, this.#batch, this.#everyMs),
    };
  }
}

/** "position / batch_size * batch_interval" [004:1153], counting the tick the user is admitted in. */
export function estimateWaitSeconds(position: number, batch: number, everyMs: number): number {
  return Math.ceil(position / batch) * Math.round(everyMs / 1000);
}
