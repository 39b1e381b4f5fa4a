import type { App } from '@sdlab/service-kit';
import { admin } from './auth.ts';

export interface Sections {
  name: string;
  rows: number;
  seatsPerRow: number;
}

/** A venue and an event on it through the admin API; returns the event and its seat ids. */
export async function createEvent(
  app: App,
  options: {
    sections?: Sections[];
    priceCents?: number;
    waitingRoom?: boolean;
    name?: string;
    performer?: string;
    city?: string;
    category?: string;
    startsAt?: string;
    description?: string;
    venueName?: string;
  } = {},
) {
  const venue = await app.inject({
    method: 'POST',
    url: '/admin/venues',
    headers: admin,
    payload: {
      name: options.venueName ?? 'Test Arena',
      city: options.city ?? 'Lyon',
      sections: options.sections ?? [{ name: 'A', rows: 5, seatsPerRow: 10 }],
    },
  });
  if (venue.statusCode !== 201) throw new Error(`venue: ${venue.statusCode} ${venue.body}`);
  const event = await app.inject({
    method: 'POST',
    url: '/admin/events',
    headers: admin,
    payload: {
      venueId: venue.json().id,
      name: options.name ?? 'Test Night',
      performer: options.performer ?? 'The Testers',
      description: options.description ?? 'A night of tests',
      category: options.category ?? 'concert',
      startsAt: options.startsAt ?? new Date(Date.now() + 30 * 86_400_000).toISOString(),
      defaultPriceCents: options.priceCents ?? 5000,
      waitingRoom: options.waitingRoom ?? false,
    },
  });
  if (event.statusCode !== 201) throw new Error(`event: ${event.statusCode} ${event.body}`);
  const seats = await app.inject({ url: `/events/${event.json().id}/seats?limit=1000` });
  return {
    event: event.json() as { id: string; version: number; name: string },
    seatIds: (seats.json().data as { id: number }[]).map((s) => s.id),
  };
}
