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

/** Parses a click from Kafka; undefined for anything malformed (counted and skipped, never retried). */
export function parseClick(value: Buffer | null): ClickEvent | undefined {
  if (!value) return undefined;
  try {
    const event = JSON.parse(value.toString('utf8')) as Partial<ClickEvent>;
    if (typeof event.code !== 'string' || event.code.length > 32) return undefined;
    if (typeof event.at !== 'number' || !Number.isFinite(event.at)) return undefined;
    if (typeof event.visitor !== 'string' || event.visitor.length > 64) return undefined;
    return event as ClickEvent;
  } catch {
    return undefined;
  }
}
