import { storeUnavailable } from '../errors.ts';

// SQLSTATE classes that mean "the server is not there" rather than "your statement is wrong":
// 08 connection exception, 57P01-57P03 shutdown / cannot connect now, 53300 too many connections.
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3]|53300)/;

/**
 * Turns "Postgres is unreachable" into the service's 503 (with Retry-After), and leaves every
 * other error as it is (a bug surfaces as a logged 500, not as a misleading 503). pg reports a
 * refused or dropped connection without a SQLSTATE (ECONNREFUSED, "Connection terminated ...",
 * the pool's connect timeout), so anything without a five-character SQLSTATE counts as unavailable.
 */
export function asStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlstate === undefined || UNAVAILABLE_SQLSTATE.test(sqlstate))
    return storeUnavailable('postgres', error);
  return error;
}
