/**
 * What the scenarios do with each service, through its public API only: create a link, an ad and
 * its impressions, an event with seats, read a counter from /metrics. Every name a scenario
 * creates carries a run id, so a run against a user's stack never meets earlier data.
 */
import { randomBytes } from 'node:crypto';
import { devToken } from '@sdlab/service-kit/auth';
import { assert, call, expectStatus } from './probe.ts';
import type { FaultContext } from './scenario.ts';

export const runId = () => randomBytes(4).toString('hex');

// ---------- url-shortener

export async function createLink(base: string, url: string, alias?: string) {
  const answer = await call(`${base}/api/links`, { json: alias ? { url, alias } : { url } });
  expectStatus(answer, 201, `create ${alias ?? url}`);
  return answer.body as { code: string; url: string };
}

export async function expectRedirect(
  base: string,
  code: string,
  location: string,
  what = `redirect ${code}`,
) {
  const answer = await call(`${base}/${code}`);
  expectStatus(answer, 302, what);
  assert(answer.headers.get('location') === location, `${what}: Location ${answer.headers.get('location')}`);
  return answer;
}

// ---------- ad-click-aggregator

/** An operator of the ads API (the stack runs in development mode, on the development JWT key). */
export const ADS_ADMIN = { authorization: `Bearer ${await devToken('sdlab-ads', ['admin'])}` };

export async function createAd(base: string, adId: string, targetUrl: string, impressions: number) {
  expectStatus(
    await call(`${base}/ads`, { json: { adId, campaignId: 'faults', targetUrl }, headers: ADS_ADMIN }),
    201,
    `create ad ${adId}`,
  );
  const signed = await call(`${base}/ads/${adId}/impressions`, {
    json: { count: impressions },
    headers: ADS_ADMIN,
  });
  expectStatus(signed, 200, `impressions of ${adId}`);
  return (signed.body as { impressions: { id: string }[] }).impressions.map((i) => i.id);
}

/** A click on an impression: it must redirect (302); the answer, its X-Click-Outcome read out. */
export async function clickAd(base: string, impression: string) {
  const answer = await call(`${base}/c/${impression}`);
  expectStatus(answer, 302, 'click');
  return { answer, outcome: answer.headers.get('x-click-outcome') };
}

/** A click that must be recorded (302, X-Click-Outcome: recorded); its answer. */
export async function clickRecorded(base: string, impression: string) {
  const { answer, outcome } = await clickAd(base, impression);
  assert(outcome === 'recorded', `outcome ${outcome}`);
  return answer;
}

/** Clicks the query API reports for the ad over the hours around now. */
export async function adClicks(base: string, adId: string): Promise<number> {
  const hour = 3_600_000;
  const from = new Date(Math.floor(Date.now() / hour) * hour - 2 * hour).toISOString();
  const to = new Date(Math.floor(Date.now() / hour) * hour + 2 * hour).toISOString();
  const answer = await call(`${base}/ads/${adId}/clicks?granularity=hour&from=${from}&to=${to}`, {
    headers: ADS_ADMIN,
  });
  expectStatus(answer, 200, `clicks of ${adId}`);
  return (answer.body as { total: number }).total;
}

// ---------- ticket-booking

/** An operator: a development token with the admin scope (catalogue writes). */
export const ADMIN = { authorization: `Bearer ${await devToken('ticket-booking', ['admin'])}` };

/** Headers of a request acting for `userId` (a development access token). */
export async function as(userId: string): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await devToken('ticket-booking', [], userId)}` };
}

/** A venue and an event on sale with `seats` seats; returns the event id and its seat ids. */
export async function createEvent(base: string, name: string, seats: number, waitingRoom = false) {
  const venue = await call(`${base}/admin/venues`, {
    headers: ADMIN,
    json: {
      name: `Fault hall ${name}`,
      city: 'Lyon',
      sections: [{ name: 'Floor', rows: 1, seatsPerRow: seats }],
    },
  });
  expectStatus(venue, 201, 'create venue');
  const event = await call(`${base}/admin/events`, {
    headers: ADMIN,
    json: {
      venueId: (venue.body as { id: string }).id,
      name: `Fault night ${name}`,
      performer: 'The Faults',
      category: 'concert',
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      defaultPriceCents: 5000,
      waitingRoom,
    },
  });
  expectStatus(event, 201, 'create event');
  const eventId = (event.body as { id: string }).id;
  const page = await call(`${base}/events/${eventId}/seats?limit=1000`);
  expectStatus(page, 200, 'list seats');
  return { eventId, seatIds: (page.body as { data: { id: number }[] }).data.map((s) => s.id) };
}

/** The user's place in an event's waiting room: `waiting` (with a position) or `admitted`. */
export async function roomStatus(base: string, eventId: string, userId: string, join = false) {
  const answer = await call(`${base}/events/${eventId}/waiting-room/${join ? 'join' : 'status'}`, {
    method: join ? 'POST' : 'GET',
    headers: await as(userId),
  });
  expectStatus(answer, 200, `waiting room ${join ? 'join' : 'status'}`);
  return (answer.body as { status: string }).status;
}

export async function hold(base: string, eventId: string, userId: string, seatIds: number[]) {
  return call(`${base}/events/${eventId}/holds`, { headers: await as(userId), json: { seatIds } });
}

// ---------- any service

/** Sum of a Prometheus counter's samples whose labels include all of `labels`. */
export async function metric(
  base: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const answer = await call(`${base}/metrics`);
  expectStatus(answer, 200, `${base}/metrics`);
  let sum = 0;
  for (const line of answer.text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      sum += Number(line.split(' ').pop());
    }
  }
  return sum;
}

/** /readyz answers `status`; for a 503, it names `dependency` among the failed checks. */
/** The process is up (`/healthz` 200) but reports not ready (`/readyz` 503) naming `dependency`. */
export async function expectAliveNotReady(base: string, dependency: string) {
  expectStatus(await call(`${base}/healthz`), 200, 'healthz');
  await expectReadiness(base, 503, dependency);
}

export async function expectReadiness(base: string, status: 200 | 503, dependency?: string) {
  const answer = await call(`${base}/readyz`);
  expectStatus(answer, status, `${base}/readyz`);
  if (status === 503 && dependency) {
    const detail = (answer.body as { detail?: string }).detail ?? '';
    assert(detail.includes(dependency), `readyz 503 does not name ${dependency}: ${detail}`);
  }
}

/** One 'after' promise per service: /readyz answers 200 again within `withinMs`. */
export async function checkReadyAgain(ctx: FaultContext, services: readonly string[], withinMs: number) {
  for (const service of services) {
    await ctx.check('after', service, `ready again (readyz 200) within ${withinMs / 1000} s`, () =>
      ctx.eventually(() => expectReadiness(ctx.url(service), 200), withinMs),
    );
  }
}
