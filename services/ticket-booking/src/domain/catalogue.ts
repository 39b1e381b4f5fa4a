import { randomUUID } from 'node:crypto';
import { traceContextCarrier } from '@sdlab/service-kit';
import { inTransaction } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import type { Queryable } from '../adapters/postgres.ts';
import { BookingErrors } from '../errors.ts';
import { releaseEventHolds } from './seat-states.ts';

/** Time limit of an event's creation transaction (its seats are one bulk insert). */
const EVENT_CREATE_TIMEOUT_MS = 120_000;

// Venues, events and seats: the source of truth. Every event change writes its search document
// to the outbox in the same transaction (never "update Postgres, then Elasticsearch": a crash
// between the two would leave search wrong for good), and wakes the relay with NOTIFY, which
// Postgres delivers only if the transaction commits.

export const OUTBOX_CHANNEL = 'booking_outbox';
export const CATEGORIES = ['concert', 'sports', 'theatre', 'comedy', 'family', 'festival'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Section {
  name: string;
  rows: number;
  seatsPerRow: number;
}

export interface Venue {
  id: string;
  name: string;
  city: string;
  address: string;
  sections: Section[];
  capacity: number;
  createdAt: string;
}

export interface EventDetails {
  id: string;
  name: string;
  performer: string;
  description: string;
  category: string;
  startsAt: string;
  status: 'SCHEDULED' | 'CANCELLED';
  waitingRoom: boolean;
  minPriceCents: number;
  maxPriceCents: number;
  seatCount: number;
  version: number;
  updatedAt: string;
  venue: { id: string; name: string; city: string; address: string };
}

/** The search document of an event, as the relay indexes it. */
export interface EventDocument {
  id: string;
  name: string;
  performer: string;
  description: string;
  category: string;
  city: string;
  venueId: string;
  venueName: string;
  startsAt: string;
  status: string;
  waitingRoom: boolean;
  minPriceCents: number;
  maxPriceCents: number;
  seatCount: number;
  version: number;
  updatedAt: string;
}

export interface NewEvent {
  venueId: string;
  name: string;
  performer: string;
  description?: string;
  category: Category;
  startsAt: string;
  /** Price per section of the venue; `defaultPriceCents` covers the sections not listed. */
  prices?: { section: string; priceCents: number }[];
  defaultPriceCents?: number;
  waitingRoom?: boolean;
}

export interface EventPatch {
  name?: string;
  performer?: string;
  description?: string;
  category?: Category;
  startsAt?: string;
  status?: 'SCHEDULED' | 'CANCELLED';
  waitingRoom?: boolean;
}

export interface SeatView {
  id: number;
  section: string;
  row: number;
  number: number;
  priceCents: number;
  status: 'AVAILABLE' | 'HELD' | 'SOLD';
}

const EVENT_SELECT = `
  SELECT e.id, e.name, e.performer, e.description, e.category, e.starts_at, e.status, e.waiting_room,
         e.min_price_cents, e.max_price_cents, e.seat_count, e.version, e.updated_at,
         v.id AS venue_id, v.name AS venue_name, v.city, v.address
  FROM booking.events e JOIN booking.venues v ON v.id = e.venue_id`;

interface EventRow {
  id: string;
  name: string;
  performer: string;
  description: string;
  category: string;
  starts_at: Date;
  status: 'SCHEDULED' | 'CANCELLED';
  waiting_room: boolean;
  min_price_cents: number;
  max_price_cents: number;
  seat_count: number;
  version: string;
  updated_at: Date;
  venue_id: string;
  venue_name: string;
  city: string;
  address: string;
}

function toEvent(row: EventRow): EventDetails {
  return {
    id: row.id,
    name: row.name,
    performer: row.performer,
    description: row.description,
    category: row.category,
    startsAt: row.starts_at.toISOString(),
    status: row.status,
    waitingRoom: row.waiting_room,
    minPriceCents: row.min_price_cents,
    maxPriceCents: row.max_price_cents,
    seatCount: row.seat_count,
    version: Number(row.version),
    updatedAt: row.updated_at.toISOString(),
    venue: { id: row.venue_id, name: row.venue_name, city: row.city, address: row.address },
  };
}

export function toDocument(event: EventDetails): EventDocument {
  return {
    id: event.id,
    name: event.name,
    performer: event.performer,
    description: event.description,
    category: event.category,
    city: event.venue.city,
    venueId: event.venue.id,
    venueName: event.venue.name,
    startsAt: event.startsAt,
    status: event.status,
    waitingRoom: event.waitingRoom,
    minPriceCents: event.minPriceCents,
    maxPriceCents: event.maxPriceCents,
    seatCount: event.seatCount,
    version: event.version,
    updatedAt: event.updatedAt,
  };
}

export const MAX_SEATS_PER_EVENT = 100_000;

export class CatalogueRepository {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async createVenue(input: {
    name: string;
    city: string;
    address?: string;
    sections: Section[];
  }): Promise<Venue> {
    const capacity = input.sections.reduce((sum, s) => sum + s.rows * s.seatsPerRow, 0);
    if (capacity > MAX_SEATS_PER_EVENT) throw new BookingErrors.VenueTooLarge(capacity, MAX_SEATS_PER_EVENT);
    const id = randomUUID();
    const { rows } = await this.#pool.query<{ created_at: Date }>(
      `INSERT INTO booking.venues (id, name, city, address, layout, capacity)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
      [id, input.name, input.city, input.address ?? '', JSON.stringify(input.sections), capacity],
    );
    return {
      id,
      name: input.name,
      city: input.city,
      address: input.address ?? '',
      sections: input.sections,
      capacity,
      createdAt: rows[0]!.created_at.toISOString(),
    };
  }

  async getVenue(id: string): Promise<Venue | undefined> {
    const { rows } = await this.#pool.query<{
      id: string;
      name: string;
      city: string;
      address: string;
      layout: Section[];
      capacity: number;
      created_at: Date;
    }>('SELECT id, name, city, address, layout, capacity, created_at FROM booking.venues WHERE id = $1', [
      id,
    ]);
    const row = rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      name: row.name,
      city: row.city,
      address: row.address,
      sections: row.layout,
      capacity: row.capacity,
      createdAt: row.created_at.toISOString(),
    };
  }

  /** Event, its seats (generated from the venue layout) and its outbox row: one transaction. */
  async createEvent(input: NewEvent): Promise<EventDetails> {
    const venue = await this.getVenue(input.venueId);
    if (!venue) throw new BookingErrors.VenueNotFound(input.venueId);
    const priced = priceSections(venue.sections, input.prices ?? [], input.defaultPriceCents);
    const prices = priced.map((s) => s.price);
    const id = randomUUID();
    const event = await inTransaction(this.#pool, async (client) => {
      // The seats are one bulk insert of up to the venue's capacity (500 x 1,000 seats a section):
      // it gets its own time limit, not the request paths' PG_STATEMENT_TIMEOUT_MS. A stadium's
      // seats took over the 5 s default while the compose stack was still starting on 2 cores.
      await client.query(`SELECT set_config('statement_timeout', $1, true)`, [
        String(EVENT_CREATE_TIMEOUT_MS),
      ]);
      await client.query(
        `INSERT INTO booking.events (id, venue_id, name, performer, description, category, starts_at,
                                     waiting_room, min_price_cents, max_price_cents, seat_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          id,
          venue.id,
          input.name,
          input.performer,
          input.description ?? '',
          input.category,
          input.startsAt,
          input.waitingRoom ?? false,
          Math.min(...prices),
          Math.max(...prices),
          venue.capacity,
        ],
      );
      await client.query(
        `INSERT INTO booking.seats (event_id, section, row_number, seat_number, price_cents)
         SELECT $1, s.value->>'name', r, n, (s.value->>'price')::int
         FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS s(value, ord),
              generate_series(1, (s.value->>'rows')::int) AS r,
              generate_series(1, (s.value->>'seatsPerRow')::int) AS n
         ORDER BY s.ord, r, n`,
        [id, JSON.stringify(priced)],
      );
      return this.#afterChange(client, id, 'event.created');
    });
    await this.#refreshSeatStatistics(venue.capacity);
    return event;
  }

  /**
   * ANALYZE booking.seats after a bulk insert that changes the table's make-up (the first events,
   * or one large against the rest), as autovacuum would do within a minute: an on-sale can start
   * sooner. Without statistics the planner estimated about one row for `event_id = $1 AND status
   * = 'AVAILABLE'` and the hold's generic plan (holds.ts) read every available seat of the event
   * through (event_id, status) to find the 1-4 it wanted: ~47,000 index entries and ~15 ms of
   * Postgres per hold on a 50,000-seat event, measured with EXPLAIN (ANALYZE, BUFFERS). With them
   * it goes through the primary key. Best effort: autovacuum catches up if this fails.
   */
  async #refreshSeatStatistics(added: number): Promise<void> {
    const { rows } = await this.#pool.query<{ estimated: number }>(
      `SELECT reltuples::float8 AS estimated FROM pg_class WHERE oid = 'booking.seats'::regclass`,
    );
    const estimated = rows[0]?.estimated ?? -1;
    if (estimated >= 0 && added <= 0.1 * estimated) return;
    await this.#pool.query('ANALYZE booking.seats').catch(() => undefined);
  }

  /**
   * Applies a patch, bumps the version and writes the new search document to the outbox. A
   * cancellation also releases the event's ACTIVE holds in the same transaction, before the event
   * row is touched (seat-states.ts `releaseEventHolds`): their users' cap of open holds frees at
   * once, not when the holds expire. `releasedHolds` counts them.
   */
  async updateEvent(id: string, patch: EventPatch): Promise<{ event: EventDetails; releasedHolds: number }> {
    return inTransaction(this.#pool, async (client) => {
      const releasedHolds = patch.status === 'CANCELLED' ? await releaseEventHolds(client, id) : 0;
      const { rowCount } = await client.query(
        `UPDATE booking.events SET
           name = coalesce($2, name), performer = coalesce($3, performer),
           description = coalesce($4, description), category = coalesce($5, category),
           starts_at = coalesce($6, starts_at), status = coalesce($7, status),
           waiting_room = coalesce($8, waiting_room),
           version = version + 1, updated_at = now()
         WHERE id = $1`,
        [
          id,
          patch.name ?? null,
          patch.performer ?? null,
          patch.description ?? null,
          patch.category ?? null,
          patch.startsAt ?? null,
          patch.status ?? null,
          patch.waitingRoom ?? null,
        ],
      );
      if (rowCount === 0) throw new BookingErrors.EventNotFound(id);
      return { event: await this.#afterChange(client, id, 'event.updated'), releasedHolds };
    });
  }

  async #afterChange(client: pg.PoolClient, id: string, type: string): Promise<EventDetails> {
    const event = (await this.getEvent(id, client))!;
    await client.query(
      'INSERT INTO booking.outbox (aggregate_id, type, payload, trace_context) VALUES ($1, $2, $3, $4)',
      [id, type, toDocument(event), traceContextCarrier()],
    );
    await client.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, id]);
    return event;
  }

  async getEvent(id: string, db: Queryable = this.#pool): Promise<EventDetails | undefined> {
    const { rows } = await db.query<EventRow>(`${EVENT_SELECT} WHERE e.id = $1`, [id]);
    return rows[0] ? toEvent(rows[0]) : undefined;
  }

  async availability(eventId: string): Promise<{ AVAILABLE: number; HELD: number; SOLD: number }> {
    const { rows } = await this.#pool.query<{ status: 'AVAILABLE' | 'HELD' | 'SOLD'; n: number }>(
      'SELECT status, count(*)::int AS n FROM booking.seats WHERE event_id = $1 GROUP BY status',
      [eventId],
    );
    const counts = { AVAILABLE: 0, HELD: 0, SOLD: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  /** A page of an event's seat map (keyset pagination by seat id). */
  async seats(
    eventId: string,
    filter: { section?: string; status?: SeatView['status']; afterId?: number; limit: number },
  ): Promise<SeatView[]> {
    const { rows } = await this.#pool.query<{
      id: string;
      section: string;
      row_number: number;
      seat_number: number;
      price_cents: number;
      status: SeatView['status'];
    }>(
      `SELECT id, section, row_number, seat_number, price_cents, status FROM booking.seats
       WHERE event_id = $1 AND ($2::text IS NULL OR section = $2) AND ($3::text IS NULL OR status = $3)
         AND id > $4
       ORDER BY id LIMIT $5`,
      [eventId, filter.section ?? null, filter.status ?? null, filter.afterId ?? 0, filter.limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      section: r.section,
      row: r.row_number,
      number: r.seat_number,
      priceCents: r.price_cents,
      status: r.status,
    }));
  }

  /** Ids of events whose waiting room is on (the admission tick walks them). */
  async waitingRoomEvents(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      `SELECT id FROM booking.events WHERE waiting_room AND status = 'SCHEDULED' AND starts_at > now() - interval '1 day'`,
    );
    return rows.map((r) => r.id);
  }
}

/** Each venue section with its price; a section without a price and no default is an error. */
export function priceSections(
  sections: Section[],
  prices: { section: string; priceCents: number }[],
  defaultPriceCents: number | undefined,
): (Section & { price: number })[] {
  const byName = new Map(prices.map((p) => [p.section, p.priceCents]));
  for (const name of byName.keys()) {
    if (!sections.some((s) => s.name === name)) throw new BookingErrors.UnknownSection(name);
  }
  return sections.map((s) => {
    const price = byName.get(s.name) ?? defaultPriceCents;
    if (price === undefined) throw new BookingErrors.MissingSectionPrice(s.name);
    return { ...s, price };
  });
}
