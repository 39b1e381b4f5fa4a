import { createHmac } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { BookingErrors } from '../errors.ts';
import type { Keys } from '../keys.ts';
import { type StreamTickets, streamTickets } from './stream-tickets.ts';

export type RoomState =
  | { status: 'waiting'; position: number; estimatedWaitSeconds: number; streamTicket: string }
  | { status: 'admitted'; accessToken: string; expiresAt: string };

const ISSUER = 'ticket-booking';
const audience = (eventId: string) => `event:${eventId}`;

/** A verified access token, spent by the hold it let through; `refund` gives it back. */
export interface SpentToken {
  refund(): Promise<void>;
}

/**
 * Virtual waiting room for a hot event [004:1145-1155]: users join a Redis sorted set in arrival
 * order (ZADD NX: a retry or a refresh keeps the place), an admission tick pops N of them per
 * interval, and an admitted user gets a signed access token (HS256, 5 min) that the hold endpoint
 * requires while the room is on. Any instance verifies the signature without Redis; a token is
 * good for one hold: its id (the same for every copy of one admission) is marked spent in Redis,
 * and given back only when the hold it let through was refused (seats taken).
 */
export class WaitingRoom {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #secret: Uint8Array;
  readonly #tokenTtlMs: number;
  readonly #batch: number;
  readonly #everyMs: number;
  readonly #tickets: StreamTickets;

  constructor(deps: {
    redis: Redis;
    keys: Keys;
    secret: string;
    tokenTtlS: number;
    batch: number;
    everyMs: number;
    /** How long a stream ticket lets a stream be opened (the longest a stream lives). */
    streamTicketTtlS: number;
  }) {
    this.#redis = deps.redis;
    this.#keys = deps.keys;
    this.#secret = new TextEncoder().encode(deps.secret);
    this.#tokenTtlMs = deps.tokenTtlS * 1000;
    this.#batch = deps.batch;
    this.#everyMs = deps.everyMs;
    this.#tickets = streamTickets(this.#secret, deps.streamTicketTtlS);
  }

  /** The user a stream ticket from `join` or `status` was issued to; 403 when it is not valid here. */
  streamUser(ticket: string, eventId: string): string {
    const userId = this.#tickets.userOf(ticket, eventId);
    if (userId === undefined) {
      throw new BookingErrors.StreamTicketInvalid('forged, expired or for another event; ask /status again');
    }
    return userId;
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

  /**
   * Checks an access token for this event and user and spends it; throws a 403 naming what is
   * wrong (a token already spent included).
   */
  async spend(token: string | undefined, eventId: string, userId: string): Promise<SpentToken> {
    const { jti, exp } = await this.#verify(token, eventId, userId);
    const key = this.#keys.spentAccessToken(eventId, jti);
    const ttlMs = Math.max(1000, exp * 1000 - Date.now());
    const fresh = await this.#redis.set(key, '1', 'PX', ttlMs, 'NX');
    if (fresh !== 'OK') throw new BookingErrors.AccessTokenInvalid('already used for a hold; join again');
    return {
      refund: async () => {
        await this.#redis.del(key);
      },
    };
  }

  async #verify(
    token: string | undefined,
    eventId: string,
    userId: string,
  ): Promise<{ jti: string; exp: number }> {
    if (!token) throw new BookingErrors.AccessTokenRequired(eventId);
    try {
      const { payload } = await jwtVerify(token, this.#secret, {
        issuer: ISSUER,
        audience: audience(eventId),
        algorithms: ['HS256'],
        requiredClaims: ['jti', 'exp'],
      });
      if (payload.sub !== userId) throw new BookingErrors.AccessTokenInvalid('issued to another user');
      return { jti: payload.jti!, exp: payload.exp! };
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

  #tokenId(eventId: string, userId: string, admittedAtMs: number): string {
    return tokenIdOf(this.#secret, eventId, userId, admittedAtMs);
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
        // One id per admission: every copy of this token (join, status, a refresh) is one hold.
        .setJti(this.#tokenId(eventId, userId, value))
        .setExpirationTime(Math.floor(expiresAtMs / 1000))
        .sign(this.#secret);
      return { status: 'admitted', accessToken, expiresAt: new Date(expiresAtMs).toISOString() };
    }
    return {
      status: 'waiting',
      position: value,
      estimatedWaitSeconds: estimateWaitSeconds(value, this.#batch, this.#everyMs),
      streamTicket: this.#tickets.issue(eventId, userId),
    };
  }
}

/** Not guessable without the secret, and the same for every copy of one admission. */
function tokenIdOf(secret: Uint8Array, eventId: string, userId: string, admittedAtMs: number): string {
  return createHmac('sha256', secret)
    .update(`${eventId}\n${userId}\n${admittedAtMs}`)
    .digest('base64url')
    .slice(0, 22);
}

/** "position / batch_size * batch_interval" [004:1153], counting the tick the user is admitted in. */
export function estimateWaitSeconds(position: number, batch: number, everyMs: number): number {
  return Math.ceil(position / batch) * Math.round(everyMs / 1000);
}
