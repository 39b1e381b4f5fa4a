import { createHash } from 'node:crypto';

/** What a redirect publishes; keyed by code, so one link's clicks stay in one partition, in order. */
export interface ClickEvent {
  code: string;
  /** Epoch ms of the redirect. */
  at: number;
  /** Pseudonymous visitor id (see visitorId); the raw IP never leaves the request. */
  visitor: string;
  /** W3C trace context of the redirect, so the stats batch can link back to it. */
  trace?: Record<string, string>;
}

/** A stable, non-reversible id per (IP, user agent), used only for the unique-visitor sketch. */
export function visitorId(ip: string, userAgent: string | undefined): string {
  return createHash('sha256')
    .update(`${ip}\n${userAgent ?? ''}`)
    .digest('base64url')
    .slice(0, 16);
}

interface VisitorOfConnection {
  ip: string;
  userAgent: string | undefined;
  id: string;
}
const visitorsByConnection = new WeakMap<object, VisitorOfConnection>();

/**
 * visitorId, hashed once per connection: a keep-alive connection keeps its address and nearly
 * always its user agent, so the SHA-256 (the largest single cost of a cached redirect) runs again
 * only when either changes. The entry goes with the socket.
 */
export function connectionVisitorId(connection: object, ip: string, userAgent: string | undefined): string {
  const known = visitorsByConnection.get(connection);
  if (known !== undefined && known.ip === ip && known.userAgent === userAgent) return known.id;
  const id = visitorId(ip, userAgent);
  visitorsByConnection.set(connection, { ip, userAgent, id });
  return id;
}

/** At most this many clicks in one Kafka message (CLICK_BATCH_MAX's ceiling). */
export const MAX_CLICKS_PER_MESSAGE = 10_000;

/**
 * The clicks of one Kafka message: the API packs a flush's clicks of one partition into one
 * message (a JSON array); a single click object, the format before packing, is read too.
 * Malformed clicks are counted and skipped, never retried.
 */
export function parseClicks(value: Buffer | null): { clicks: ClickEvent[]; invalid: number } {
  if (!value) return { clicks: [], invalid: 1 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return { clicks: [], invalid: 1 };
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length > MAX_CLICKS_PER_MESSAGE) return { clicks: [], invalid: items.length };
  const clicks: ClickEvent[] = [];
  for (const item of items) if (isClick(item)) clicks.push(item);
  return { clicks, invalid: items.length - clicks.length };
}

function isClick(value: unknown): value is ClickEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Partial<ClickEvent>;
  if (typeof event.code !== 'string' || event.code.length > 32) return false;
  if (typeof event.at !== 'number' || !Number.isFinite(event.at)) return false;
  if (typeof event.visitor !== 'string' || event.visitor.length > 64) return false;
  return true;
}
