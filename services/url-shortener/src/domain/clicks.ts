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
 * One link's clicks of one flush, in columns: every click keeps its time and visitor, but the code
 * is written once, times are offsets from the first, visitors are indexes into the link's distinct
 * visitors. A click costs the API two small integers in an array (no object, no JSON object) and
 * about 6 bytes on the wire instead of ~70, and the worker counts a link's clicks without building
 * one object per click.
 */
export interface LinkClicks {
  code: string;
  /** Epoch ms of the first click. */
  at: number;
  /** Per click: ms after `at`. */
  dt: number[];
  /** The distinct visitors of these clicks. */
  visitors: string[];
  /** Per click: its visitor, as an index into `visitors`. */
  v: number[];
  /** Traced clicks only: [click index, W3C trace context]. */
  traces?: [number, Record<string, string>][];
}

/** A link's clicks in a message, as the worker counts them: how many, the latest, who. */
export interface ClickTally {
  code: string;
  count: number;
  lastAt: number;
  visitors: readonly string[];
  traces: readonly Record<string, string>[];
}

/** The columns of one link's clicks while a flush gathers them (API side). */
export class LinkClicksBuilder {
  readonly #record: LinkClicks;
  /** Made at a link's second distinct visitor: most links of a flush have one. */
  #visitorIndex: Map<string, number> | undefined;
  #lastVisitor = '';
  #lastIndex = -1;

  constructor(code: string, at: number) {
    this.#record = { code, at, dt: [], visitors: [], v: [] };
  }

  get count(): number {
    return this.#record.dt.length;
  }

  add(at: number, visitor: string, trace: Record<string, string> | undefined): void {
    const record = this.#record;
    // A keep-alive connection sends one visitor's clicks in a row: skip the map for a repeat.
    let index = visitor === this.#lastVisitor ? this.#lastIndex : this.#indexOf(visitor);
    if (index === undefined) {
      index = record.visitors.push(visitor) - 1;
      if (index > 0) {
        this.#visitorIndex ??= new Map([[record.visitors[0]!, 0]]);
        this.#visitorIndex.set(visitor, index);
      }
    }
    this.#lastVisitor = visitor;
    this.#lastIndex = index;
    if (trace) {
      record.traces ??= [];
      record.traces.push([record.dt.length, trace]);
    }
    // Clock steps backwards (NTP) are clamped: an offset is never negative.
    record.dt.push(Math.max(0, at - record.at));
    record.v.push(index);
  }

  #indexOf(visitor: string): number | undefined {
    if (this.#visitorIndex !== undefined) return this.#visitorIndex.get(visitor);
    return this.#record.visitors[0] === visitor ? 0 : undefined;
  }

  /** The record to send, cut into pieces of at most `max` clicks (a message's bound). */
  records(max: number): LinkClicks[] {
    const record = this.#record;
    if (record.dt.length <= max) return [record];
    const pieces: LinkClicks[] = [];
    for (let from = 0; from < record.dt.length; from += max) {
      const to = Math.min(record.dt.length, from + max);
      // Each piece lists only its own visitors, re-indexed.
      const visitors: string[] = [];
      const index = new Map<number, number>();
      const v = record.v.slice(from, to).map((i) => {
        let mapped = index.get(i);
        if (mapped === undefined) {
          mapped = visitors.push(record.visitors[i]!) - 1;
          index.set(i, mapped);
        }
        return mapped;
      });
      const traces = record.traces
        ?.filter(([i]) => i >= from && i < to)
        .map(([i, t]): [number, Record<string, string>] => [i - from, t]);
      pieces.push({
        code: record.code,
        at: record.at,
        dt: record.dt.slice(from, to),
        visitors,
        v,
        ...(traces?.length ? { traces } : {}),
      });
    }
    return pieces;
  }

  traces(): readonly [number, Record<string, string>][] {
    return this.#record.traces ?? [];
  }
}

/**
 * The clicks of one Kafka message, one event per click. The API packs a flush's clicks of one
 * partition into one message (a JSON array of LinkClicks); the formats before that, an array of
 * click objects and a single click object, are read too. Malformed items are counted (in clicks
 * where their size is known) and skipped, never retried.
 */
export function parseClicks(value: Buffer | null): { clicks: ClickEvent[]; invalid: number } {
  const { items, invalid } = readItems(value);
  const clicks: ClickEvent[] = [];
  for (const item of items) {
    if (!isLinkClicks(item)) {
      clicks.push(item);
      continue;
    }
    const traces = new Map(item.traces ?? []);
    for (let i = 0; i < item.dt.length; i++) {
      const trace = traces.get(i);
      clicks.push({
        code: item.code,
        at: item.at + item.dt[i]!,
        visitor: item.visitors[item.v[i]!]!,
        ...(trace ? { trace } : {}),
      });
    }
  }
  return { clicks, invalid };
}

/** The clicks of one Kafka message per link, as the worker counts them (no object per click). */
export function parseClickTallies(value: Buffer | null): { tallies: ClickTally[]; invalid: number } {
  const { items, invalid } = readItems(value);
  const tallies: ClickTally[] = [];
  for (const item of items) {
    if (isLinkClicks(item)) {
      let last = 0;
      for (const dt of item.dt) if (dt > last) last = dt;
      tallies.push({
        code: item.code,
        count: item.dt.length,
        lastAt: item.at + last,
        visitors: item.visitors,
        traces: (item.traces ?? []).map(([, trace]) => trace),
      });
    } else {
      tallies.push({
        code: item.code,
        count: 1,
        lastAt: item.at,
        visitors: [item.visitor],
        traces: item.trace ? [item.trace] : [],
      });
    }
  }
  return { tallies, invalid };
}

/** The valid items of a message (clicks or LinkClicks) and how many clicks were malformed. */
function readItems(value: Buffer | null): { items: (ClickEvent | LinkClicks)[]; invalid: number } {
  if (!value) return { items: [], invalid: 1 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return { items: [], invalid: 1 };
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  let clicks = 0;
  for (const item of list) clicks += isColumns(item) ? item.dt.length : 1;
  if (clicks > MAX_CLICKS_PER_MESSAGE) return { items: [], invalid: clicks };
  const items: (ClickEvent | LinkClicks)[] = [];
  let invalid = 0;
  for (const item of list) {
    if (isColumns(item)) {
      if (isLinkClicks(item)) items.push(item);
      else invalid += item.dt.length;
    } else if (isClick(item)) items.push(item);
    else invalid++;
  }
  return { items, invalid };
}

function isClick(value: unknown): value is ClickEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Partial<ClickEvent>;
  if (typeof event.code !== 'string' || event.code.length > 32) return false;
  if (typeof event.at !== 'number' || !Number.isFinite(event.at)) return false;
  if (typeof event.visitor !== 'string' || event.visitor.length > 64) return false;
  return true;
}

/** Shaped like LinkClicks (has its click column), valid or not. */
function isColumns(value: unknown): value is { dt: unknown[] } {
  return typeof value === 'object' && value !== null && Array.isArray((value as { dt?: unknown }).dt);
}

function isLinkClicks(value: unknown): value is LinkClicks {
  if (!isColumns(value)) return false;
  const item = value as Partial<LinkClicks> & { dt: unknown[] };
  if (typeof item.code !== 'string' || item.code.length > 32) return false;
  if (typeof item.at !== 'number' || !Number.isFinite(item.at)) return false;
  const { dt, v, visitors, traces } = item;
  if (!Array.isArray(visitors) || visitors.length === 0 || visitors.length > dt.length) return false;
  if (!visitors.every((id) => typeof id === 'string' && id.length <= 64)) return false;
  if (!Array.isArray(v) || v.length !== dt.length) return false;
  for (let i = 0; i < dt.length; i++) {
    const offset = dt[i];
    const index = v[i];
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) return false;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= visitors.length)
      return false;
  }
  if (traces !== undefined) {
    if (!Array.isArray(traces) || traces.length > dt.length) return false;
    for (const entry of traces) {
      if (!Array.isArray(entry) || entry.length !== 2) return false;
      const [index, carrier] = entry as unknown[];
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= dt.length)
        return false;
      if (!isCarrier(carrier)) return false;
    }
  }
  return true;
}

/** A W3C trace context as a carrier: a few short strings (traceparent, tracestate). */
function isCarrier(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= 4 && entries.every(([, v]) => typeof v === 'string' && v.length <= 512);
}
