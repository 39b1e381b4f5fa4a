// Seed data generator: venues of realistic sizes (clubs to stadiums) in real cities, and
// thousands of events on them, created through the admin API, so every event also goes through
// the outbox into search. Deterministic for a given SEED_RANDOM_SEED.
//
//   pnpm --filter @sdlab/ticket-booking seed                      # 1000 events, a few million seats
//   SEED_EVENTS=100 SEED_BASE_URL=http://127.0.0.1:8085 pnpm --filter @sdlab/ticket-booking seed
import { loadConfig } from '@sdlab/service-kit';
import { JwtIssuer, jwtConfig } from '@sdlab/service-kit/auth';
import Type from 'typebox';
import { ADMIN_SCOPE } from './routes/admin/index.ts';

const SeedConfig = Type.Object({
  SEED_BASE_URL: Type.String({ default: 'http://127.0.0.1:8085', format: 'uri' }),
  /** The service's token settings: the seed signs itself an admin token with them. */
  ...jwtConfig({ audience: 'ticket-booking' }),
  SEED_VENUES: Type.Integer({ default: 60, minimum: 1, maximum: 10_000 }),
  SEED_EVENTS: Type.Integer({ default: 1000, minimum: 1, maximum: 1_000_000 }),
  SEED_CONCURRENCY: Type.Integer({ default: 4, minimum: 1, maximum: 64 }),
  SEED_RANDOM_SEED: Type.Integer({ default: 42 }),
  /**
   * Leave a catalogue that search already shows alone (compose and `pnpm stack up` run the seed on
   * every start; the catalogue lives in volumes that outlive it).
   */
  SEED_SKIP_IF_PRESENT: Type.Boolean({ default: false }),
  /** Share of events with the waiting room on (the hot on-sales). */
  SEED_WAITING_ROOM_SHARE: Type.Number({ default: 0.02, minimum: 0, maximum: 1 }),
});

/** mulberry32: a small seeded PRNG, so two runs with one seed make the same catalogue. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const CITIES = [
  'Paris',
  'Lyon',
  'Marseille',
  'London',
  'Manchester',
  'Berlin',
  'Hamburg',
  'Madrid',
  'Barcelona',
  'Milano',
  'Roma',
  'Amsterdam',
  'Bruxelles',
  'Zürich',
  'Wien',
  'København',
  'Stockholm',
  'Oslo',
  'Lisboa',
  'Dublin',
];
const VENUE_WORDS = [
  'Arena',
  'Hall',
  'Theatre',
  'Stadium',
  'Palais',
  'Club',
  'Opera',
  'Dome',
  'Forum',
  'Pavilion',
];
const ADJECTIVES = [
  'Royal',
  'Grand',
  'New',
  'Old',
  'Electric',
  'Velvet',
  'Golden',
  'Northern',
  'Silver',
  'Crystal',
  'Midnight',
  'Wild',
];
const NOUNS = [
  'Foxes',
  'Echoes',
  'Lanterns',
  'Rivers',
  'Comets',
  'Harbour',
  'Orchestra',
  'Collective',
  'Quartet',
  'Kings',
  'Wolves',
  'Sirens',
];
const FIRST = [
  'Ana',
  'Léa',
  'Björk',
  'Zoë',
  'Mateo',
  'Ingrid',
  'Amélie',
  'Jonas',
  'Chloé',
  'Noah',
  'Sofía',
  'Émile',
];
const LAST = [
  'Moreau',
  'Schmidt',
  'García',
  'Rossi',
  'Jansen',
  'Nilsson',
  'Dubois',
  'Müller',
  'Fernández',
  'Björnsson',
];
const CATEGORY_TITLES: Record<string, string[]> = {
  concert: ['World Tour', 'Live', 'Unplugged', 'Anniversary Show', 'Farewell Tour'],
  sports: ['Derby', 'Cup Final', 'League Match', 'Championship'],
  theatre: ['Hamlet', 'Le Misanthrope', 'Les Misérables', 'A Doll’s House', 'The Tempest'],
  comedy: ['Stand-up Night', 'Comedy Marathon', 'Improv Live'],
  family: ['Circus', 'On Ice', 'Magic Show', 'Puppet Theatre'],
  festival: ['Summer Festival', 'Jazz Weekend', 'Electronic Days', 'Folk Gathering'],
};

type Kind = {
  name: string;
  share: number;
  sections: () => { name: string; rows: number; seatsPerRow: number }[];
};

function kinds(r: () => number): Kind[] {
  const between = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  return [
    {
      name: 'Club',
      share: 0.45,
      sections: () => [{ name: 'Floor', rows: between(10, 30), seatsPerRow: between(20, 40) }],
    },
    {
      name: 'Theatre',
      share: 0.3,
      sections: () => [
        { name: 'Stalls', rows: between(20, 35), seatsPerRow: between(30, 45) },
        { name: 'Circle', rows: between(8, 15), seatsPerRow: between(30, 40) },
        { name: 'Balcony', rows: between(5, 10), seatsPerRow: between(25, 35) },
      ],
    },
    {
      name: 'Arena',
      share: 0.2,
      sections: () =>
        ['Floor', 'Lower 100', 'Lower 200', 'Upper 300', 'Upper 400'].map((name) => ({
          name,
          rows: between(20, 30),
          seatsPerRow: between(60, 100),
        })),
    },
    {
      name: 'Stadium',
      share: 0.05,
      sections: () =>
        [
          'Pitch',
          'North',
          'South',
          'East',
          'West',
          'Upper North',
          'Upper South',
          'Upper East',
          'Upper West',
        ].map((name) => ({ name, rows: between(30, 45), seatsPerRow: between(120, 160) })),
    },
  ];
}

/** The kind whose cumulative share first exceeds `roll` (a roll in [0, 1)). */
function weighted(items: Kind[], roll: number): Kind {
  let cumulative = 0;
  for (const item of items) {
    cumulative += item.share;
    if (roll < cumulative) return item;
  }
  return items[items.length - 1]!;
}

async function main(): Promise<void> {
  const config = loadConfig('ticket-booking-seed', SeedConfig, process.env);
  const r = prng(config.SEED_RANDOM_SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
  const issuer = new JwtIssuer({
    secret: config.JWT_SECRET,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const { token } = await issuer.issue('seed', { scopes: [ADMIN_SCOPE], ttlS: 6 * 3600 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${config.SEED_BASE_URL}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; capacity?: number; sections?: { name: string }[] };
  };

  if (config.SEED_SKIP_IF_PRESENT) {
    const res = await fetch(`${config.SEED_BASE_URL}/events/search?size=1`);
    if (!res.ok) throw new Error(`/events/search: ${res.status} ${await res.text()}`);
    const { total } = (await res.json()) as { total: number };
    if (total > 0) {
      process.stdout.write(`seed: search already shows ${total} events; nothing to do\n`);
      return;
    }
  }

  const venueKinds = kinds(r);
  const venues: { id: string; sections: { name: string }[]; kind: string }[] = [];
  let seats = 0;
  for (let i = 0; i < config.SEED_VENUES; i++) {
    const kind = weighted(venueKinds, r());
    const venue = await post('/admin/venues', {
      name: `${pick(ADJECTIVES)} ${pick(NOUNS).replace(/s$/, '')} ${kind.name === 'Club' ? pick(VENUE_WORDS) : kind.name}`,
      city: pick(CITIES),
      address: `${1 + Math.floor(r() * 200)} ${pick(LAST)} Street`,
      sections: kind.sections(),
    });
    venues.push({ id: venue.id, sections: venue.sections ?? [], kind: kind.name });
  }

  const started = Date.now();
  let created = 0;
  const makeEvent = () => {
    const venue = pick(venues);
    const category =
      venue.kind === 'Stadium'
        ? pick(['sports', 'concert', 'festival'])
        : venue.kind === 'Theatre'
          ? pick(['theatre', 'comedy', 'family', 'concert'])
          : pick(Object.keys(CATEGORY_TITLES));
    const performer = r() < 0.5 ? `${pick(FIRST)} ${pick(LAST)}` : `The ${pick(ADJECTIVES)} ${pick(NOUNS)}`;
    const base = 1500 + Math.floor(r() * 8000);
    return {
      venueId: venue.id,
      name:
        category === 'theatre'
          ? `${pick(CATEGORY_TITLES.theatre!)} — ${performer}`
          : `${performer}: ${pick(CATEGORY_TITLES[category]!)}`,
      performer,
      description: `${performer} at the ${venue.kind.toLowerCase()}. ${pick(['Doors open one hour before.', 'All ages.', 'Standing and seated.', 'Limited tickets.'])}`,
      category,
      startsAt: new Date(
        Date.now() + (1 + Math.floor(r() * 365)) * 86_400_000 + Math.floor(r() * 6) * 3_600_000,
      ).toISOString(),
      // Front sections cost more.
      prices: venue.sections.map((s, i) => ({
        section: s.name,
        priceCents: Math.round((base * (1 + (venue.sections.length - i) * 0.35)) / 100) * 100,
      })),
      waitingRoom: r() < config.SEED_WAITING_ROOM_SHARE,
    };
  };
  const queue = Array.from({ length: config.SEED_EVENTS }, makeEvent);
  await Promise.all(
    Array.from({ length: config.SEED_CONCURRENCY }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const event = (await post('/admin/events', next)) as { id: string; seatCount?: number };
        seats += event.seatCount ?? 0;
        if (++created % 100 === 0)
          process.stdout.write(`seed: ${created}/${config.SEED_EVENTS} events, ${seats} seats\n`);
      }
    }),
  );
  process.stdout.write(
    `seed: ${venues.length} venues, ${created} events, ${seats} seats in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

if (import.meta.main) {
  main().catch((error) => {
    process.stderr.write(`seed failed: ${error instanceof Error ? error.message : error}\n`);
    process.exit(1);
  });
}
