import { execPipeline } from '@sdlab/service-kit';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';

/** Where one device of a user is connected: a registry entry [004:1197]. */
export interface SessionEntry {
  deviceId: string;
  instanceId: string;
  connectionId: string;
  /** By the clock of the gateway that wrote it; readers skip entries past it. */
  expiresAtMs: number;
}

export interface Presence {
  userId: string;
  online: boolean;
  /** Live devices (connections) of the user, on any instance. */
  devices: number;
  /** Last time a connection of the user was seen (connect, heartbeat or close), or null. */
  lastSeenAt: string | null;
}

export interface SessionRef {
  userId: string;
  deviceId: string;
  connectionId: string;
}

/** `instanceId|connectionId|expiresAtMs`: ids never contain `|` (their patterns exclude it). */
export function encodeEntry(entry: Omit<SessionEntry, 'deviceId'>): string {
  return `${entry.instanceId}|${entry.connectionId}|${entry.expiresAtMs}`;
}

export function decodeEntry(deviceId: string, value: string): SessionEntry | undefined {
  const [instanceId, connectionId, expires] = value.split('|');
  const expiresAtMs = Number(expires);
  if (!instanceId || !connectionId || !Number.isFinite(expiresAtMs)) return undefined;
  return { deviceId, instanceId, connectionId, expiresAtMs };
}

/** The live entries of a user's sessions hash (HGETALL reply). */
export function liveEntries(hash: Record<string, string>, nowMs: number): SessionEntry[] {
  const entries: SessionEntry[] = [];
  for (const [deviceId, value] of Object.entries(hash)) {
    const entry = decodeEntry(deviceId, value);
    if (entry && entry.expiresAtMs > nowMs) entries.push(entry);
  }
  return entries;
}

export interface SessionRegistryOptions {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  ttlMs: number;
  lastSeenTtlS: number;
  maxDevices: number;
  now?: () => number;
}

/**
 * The connection registry in Redis: user/device -> gateway instance, kept alive by heartbeats.
 *
 * One hash per user, one field per device. A gateway writes a field when a socket connects,
 * rewrites it with a later expiry on every heartbeat (30 s) and removes it when the socket
 * closes. If the gateway dies, the heartbeats stop: the field's own expiry (70 s) makes readers
 * skip it, and the hash's TTL removes the key once every device is gone. Presence is derived
 * from it: online = at least one live entry; last seen = a timestamp each write also refreshes.
 */
export class SessionRegistry {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #instanceId: string;
  readonly #ttlMs: number;
  readonly #lastSeenTtlS: number;
  readonly #maxDevices: number;
  readonly #now: () => number;

  constructor(options: SessionRegistryOptions) {
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#instanceId = options.instanceId;
    this.#ttlMs = options.ttlMs;
    this.#lastSeenTtlS = options.lastSeenTtlS;
    this.#maxDevices = options.maxDevices;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Registers a new connection. The device's previous connection, if it had one, is returned so
   * that it can be closed (the newest connection of a device wins).
   */
  async claim(ref: SessionRef): Promise<{ ok: true; previous?: SessionEntry } | { ok: false }> {
    const now = this.#now();
    const [status, previous] = await this.#redis.claimSession(
      this.#keys.sessions(ref.userId),
      this.#keys.lastSeen(ref.userId),
      ref.deviceId,
      this.#entry(ref.connectionId, now),
      this.#ttlMs,
      now,
      this.#lastSeenTtlS,
      this.#maxDevices,
    );
    if (status !== 1) return { ok: false };
    const entry = previous ? decodeEntry(ref.deviceId, previous) : undefined;
    return entry && entry.connectionId !== ref.connectionId && entry.expiresAtMs > now
      ? { ok: true, previous: entry }
      : { ok: true };
  }

  /** Heartbeat for many connections in one pipeline; false where the device connected again elsewhere. */
  async refresh(refs: readonly SessionRef[]): Promise<boolean[]> {
    if (refs.length === 0) return [];
    const now = this.#now();
    const replies = await execPipeline('heartbeat', () => {
      const pipeline = this.#redis.pipeline();
      for (const ref of refs) {
        pipeline.refreshSession(
          this.#keys.sessions(ref.userId),
          this.#keys.lastSeen(ref.userId),
          ref.deviceId,
          ref.connectionId,
          this.#entry(ref.connectionId, now),
          this.#ttlMs,
          now,
          this.#lastSeenTtlS,
        );
      }
      return pipeline;
    });
    // A failed reply (Redis hiccup) keeps the connection: the next heartbeat tries again, and the
    // entry has a TTL of more than two intervals for exactly this.
    return refs.map((_, i) => {
      const [error, reply] = replies[i] ?? [null, 1];
      return error !== null || reply !== 0;
    });
  }

  async release(ref: SessionRef): Promise<void> {
    await this.#redis.releaseSession(
      this.#keys.sessions(ref.userId),
      this.#keys.lastSeen(ref.userId),
      ref.deviceId,
      ref.connectionId,
      this.#now(),
      this.#lastSeenTtlS,
    );
  }

  /** The live sessions of each user, read in one pipeline (routing a message to its recipients). */
  async locate(userIds: readonly string[]): Promise<Map<string, SessionEntry[]>> {
    const located = new Map<string, SessionEntry[]>();
    if (userIds.length === 0) return located;
    const replies = await execPipeline('locate', () => {
      const pipeline = this.#redis.pipeline();
      for (const userId of userIds) pipeline.hgetall(this.#keys.sessions(userId));
      return pipeline;
    });
    const now = this.#now();
    userIds.forEach((userId, i) => {
      const [error, hash] = replies[i] ?? [null, {}];
      if (error) throw error;
      const entries = liveEntries(hash as Record<string, string>, now);
      if (entries.length) located.set(userId, entries);
    });
    return located;
  }

  async presence(userIds: readonly string[]): Promise<Presence[]> {
    const replies = await execPipeline('presence', () => {
      const pipeline = this.#redis.pipeline();
      for (const userId of userIds) {
        pipeline.hgetall(this.#keys.sessions(userId));
        pipeline.get(this.#keys.lastSeen(userId));
      }
      return pipeline;
    });
    const now = this.#now();
    return userIds.map((userId, i) => {
      const [hashError, hash] = replies[2 * i] ?? [null, {}];
      const [seenError, seen] = replies[2 * i + 1] ?? [null, null];
      if (hashError) throw hashError;
      if (seenError) throw seenError;
      const devices = liveEntries(hash as Record<string, string>, now).length;
      const lastSeenMs = seen ? Number(seen) : Number.NaN;
      return {
        userId,
        online: devices > 0,
        devices,
        lastSeenAt: Number.isFinite(lastSeenMs) ? new Date(lastSeenMs).toISOString() : null,
      };
    });
  }

  #entry(connectionId: string, now: number): string {
    return encodeEntry({ instanceId: this.#instanceId, connectionId, expiresAtMs: now + this.#ttlMs });
  }
}
