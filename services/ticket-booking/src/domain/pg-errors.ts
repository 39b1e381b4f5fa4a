// Postgres failures that mean "the database is unreachable" (nothing was changed), as opposed to
// a statement the database refused. The first become 503 with Retry-After.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P03',
  '08006',
  '08001',
]);

export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /timeout exceeded when trying to connect|Connection terminated/i.test(e.message ?? '');
}
