import createError from '@fastify/error';
import { createUnavailableError } from '@sdlab/service-kit';

// The service's coded errors; the kit renders each as problem+json with its code and status.
export const BookingErrors = {
  VenueNotFound: createError('SDLAB_BOOKING_VENUE_NOT_FOUND', 'no venue with id "%s"', 404),
  EventNotFound: createError('SDLAB_BOOKING_EVENT_NOT_FOUND', 'no event with id "%s"', 404),
  EventNotOnSale: createError('SDLAB_BOOKING_EVENT_NOT_ON_SALE', 'event "%s" is %s', 409),
  MissingSectionPrice: createError(
    'SDLAB_BOOKING_MISSING_SECTION_PRICE',
    'prices: no price for section "%s"',
    400,
  ),
  UnknownSection: createError('SDLAB_BOOKING_UNKNOWN_SECTION', 'prices: the venue has no section "%s"', 400),
  VenueTooLarge: createError('SDLAB_BOOKING_VENUE_TOO_LARGE', 'sections: %d seats, at most %d', 400),
  SeatsNotFound: createError(
    'SDLAB_BOOKING_SEATS_NOT_FOUND',
    'seatIds: no such seats in this event: %s',
    404,
  ),
  SeatsTaken: createError('SDLAB_BOOKING_SEATS_TAKEN', 'seats already taken: %s', 409),
  LockUnavailable: createUnavailableError(
    'SDLAB_BOOKING_LOCK_UNAVAILABLE',
    'the seat lock service is unavailable; nothing was held, retry shortly',
  ),
  PaymentsUnavailable: createUnavailableError(
    'SDLAB_BOOKING_PAYMENTS_UNAVAILABLE',
    'the payment provider could not be asked; nothing was changed, retry shortly',
  ),
  StoreUnavailable: createUnavailableError(
    'SDLAB_BOOKING_STORE_UNAVAILABLE',
    'the booking database is unavailable; nothing was changed, retry shortly',
  ),
  HoldNotFound: createError('SDLAB_BOOKING_HOLD_NOT_FOUND', 'no hold with id "%s" for this user', 404),
  HoldNotActive: createError('SDLAB_BOOKING_HOLD_NOT_ACTIVE', 'hold "%s" is %s', 409),
  HoldExpired: createError('SDLAB_BOOKING_HOLD_EXPIRED', 'hold "%s" expired before it was paid', 410),
  HoldAlreadyPurchased: createError(
    'SDLAB_BOOKING_HOLD_ALREADY_PURCHASED',
    'hold "%s" is already being purchased under another Idempotency-Key',
    409,
  ),
  IdempotencyKeyReused: createError(
    'SDLAB_BOOKING_IDEMPOTENCY_KEY_REUSED',
    'Idempotency-Key was already used for another hold',
    422,
  ),
  IdempotencyKeyMismatch: createError(
    'SDLAB_BOOKING_IDEMPOTENCY_KEY_MISMATCH',
    'Idempotency-Key was already used for this hold with another payment method; nothing was charged by this request',
    422,
  ),
  PaymentDeclined: createError(
    'SDLAB_BOOKING_PAYMENT_DECLINED',
    'the payment was declined (%s); the seats were released',
    402,
  ),
  PurchaseFailed: createError('SDLAB_BOOKING_PURCHASE_FAILED', 'purchase failed: %s', 409),
  PurchaseNotFound: createError(
    'SDLAB_BOOKING_PURCHASE_NOT_FOUND',
    'no purchase with id "%s" for this user',
    404,
  ),
  InvalidSignature: createError(
    'SDLAB_BOOKING_INVALID_SIGNATURE',
    'webhook signature missing, stale or wrong',
    401,
  ),
  AccessTokenRequired: createError(
    'SDLAB_BOOKING_ACCESS_TOKEN_REQUIRED',
    'event "%s" has a waiting room: join it and hold with the access token it gives you',
    403,
  ),
  AccessTokenInvalid: createError('SDLAB_BOOKING_ACCESS_TOKEN_INVALID', 'access token rejected: %s', 403),
  StreamTicketInvalid: createError('SDLAB_BOOKING_STREAM_TICKET_INVALID', 'stream ticket rejected: %s', 403),
  WaitingRoomOff: createError(
    'SDLAB_BOOKING_WAITING_ROOM_OFF',
    'event "%s" has no waiting room; hold seats directly',
    409,
  ),
  InvalidCursor: createError('SDLAB_BOOKING_INVALID_CURSOR', '%s', 400),
  TooManyActiveHolds: createError(
    'SDLAB_BOOKING_TOO_MANY_ACTIVE_HOLDS',
    'at most %d open holds per user: pay for or cancel one first',
    409,
  ),
  TooManySeats: createError('SDLAB_BOOKING_TOO_MANY_SEATS', 'seatIds: at most %d seats per hold', 400),
  TooManySeatsAsked: createError('SDLAB_BOOKING_TOO_MANY_SEATS', 'quantity: at most %d seats per hold', 400),
  SoldOut: createError(
    'SDLAB_BOOKING_SOLD_OUT',
    'fewer free seats%s than the %d asked for: nothing was held',
    409,
  ),
  SectionNotFound: createError(
    'SDLAB_BOOKING_SECTION_NOT_FOUND',
    'section: the event has no section "%s"',
    404,
  ),
  SearchRefused: createError(
    'SDLAB_BOOKING_SEARCH_REFUSED',
    'the search could not be run with these parameters (a cursor from another query, or a filter out of range)',
    400,
  ),
  SearchUnavailable: createUnavailableError(
    'SDLAB_BOOKING_SEARCH_UNAVAILABLE',
    'search is unavailable; retry shortly',
  ),
  TooManyStreams: createUnavailableError(
    'SDLAB_BOOKING_TOO_MANY_STREAMS',
    'too many waiting-room streams on this instance; poll /status instead, or retry shortly',
    5,
  ),
  NotInQueue: createError(
    'SDLAB_BOOKING_NOT_IN_QUEUE',
    'user is not in the waiting room of event "%s"; join first',
    404,
  ),
};
