// k6 side of the ticket-booking scenarios: access tokens signed as the identity provider would
// (the service's development JWT settings, or JWT_SECRET / JWT_ISSUER / JWT_AUDIENCE of the
// deployment under test), and the catalogue set-up they share.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';

const JWT = {
  secret: __ENV.JWT_SECRET || 'sdlab-development-jwt-secret-not-for-production',
  issuer: __ENV.JWT_ISSUER || 'sdlab-dev-identity',
  audience: __ENV.JWT_AUDIENCE || 'ticket-booking',
};

/**
 * This k6 run's mark in user ids (read at each VU's start; an iteration number makes the id unique
 * within the run). Runs against one service share its database: the runner measures three fresh
 * starts per configuration, each warmed up first, and the same ids again in every run reached the
 * shipped cap of five active holds per user on the third start (409s for holds that should succeed).
 */
export const RUN = Date.now().toString(36);

/** An access token for `subject`, as the identity provider would sign it (scope: e.g. 'admin'). */
export function accessToken(subject, scope) {
  const part = (value) => encoding.b64encode(JSON.stringify(value), 'rawurl');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: subject, iss: JWT.issuer, aud: JWT.audience, iat: now, exp: now + 4 * 3600 };
  if (scope) claims.scope = scope;
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const signature = crypto.hmac('sha256', JWT.secret, unsigned, 'binary');
  return `${unsigned}.${encoding.b64encode(signature, 'rawurl')}`;
}

/** Headers of a request acting for `user`. */
export const as = (user) => ({ authorization: `Bearer ${accessToken(user)}` });

export const ADMIN = {
  authorization: `Bearer ${accessToken('k6-admin', 'admin')}`,
  'content-type': 'application/json',
};

/**
 * A venue with one section of `rows` × `seatsPerRow` seats and an event on it, through the admin
 * API; returns the event id and its seat ids as a range (seats of one event are numbered together).
 */
export function createEvent(
  base,
  { name, performer, venueName = `${name} Arena`, city = 'Paris', rows, seatsPerRow, waitingRoom = false },
) {
  const venue = http
    .post(
      `${base}/admin/venues`,
      JSON.stringify({ name: venueName, city, sections: [{ name: 'Floor', rows, seatsPerRow }] }),
      { headers: ADMIN },
    )
    .json();
  const event = http
    .post(
      `${base}/admin/events`,
      JSON.stringify({
        venueId: venue.id,
        name,
        performer,
        description: `${performer} live`,
        category: 'concert',
        startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        defaultPriceCents: 4500,
        waitingRoom,
      }),
      { headers: ADMIN, timeout: '120s' },
    )
    .json();
  if (!event.id) throw new Error(`event not created: ${JSON.stringify(event)}`);
  const seats = http.get(`${base}/events/${event.id}/seats?limit=1`).json().data;
  return { id: event.id, firstSeat: seats[0].id, seatCount: rows * seatsPerRow };
}
