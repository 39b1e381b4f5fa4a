import { context } from '@opentelemetry/api';
import pg from 'pg';
import { inLeafContext } from './trace-context.ts';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * A query, or a checkout, under a span that is not recording runs without that span, so the pg
 * instrumentation (requireParentSpan) makes no span for it: for an unsampled request it would
 * otherwise build the query's name, text and attributes and a span that is thrown away. Set on the
 * pool and on each of its clients as they connect, calling the prototype's method at call time:
 * every patch of the prototype (the instrumentation patches pg once per loader that loads it) stays
 * inside it, where a prototype patch of ours would itself be wrapped again (two spans a query).
 * Only where tracing runs.
 */
export function keepPostgresLeafSpans(pool: pg.Pool): void {
  outside(pool, pg.Pool.prototype, 'connect');
  pool.on('connect', (client) => outside(client, pg.Client.prototype, 'query'));
}

function outside(target: object, proto: object, name: string): void {
  const method = () => (proto as Record<string, Method>)[name]!;
  (target as Record<string, Method>)[name] = function (this: unknown, ...args: unknown[]) {
    return inLeafContext(context.active(), () => method().apply(this, args));
  };
}
