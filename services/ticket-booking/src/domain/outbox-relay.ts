import type { Client as Elasticsearch } from '@elastic/elasticsearch';
import { context, type Link, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { withTraceContext } from '@sdlab/service-kit';
import { backoffDelay, isRetriable } from '@sdlab/service-kit/retry';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { Attr, tracer, type WorkerMetrics } from '../telemetry.ts';
import { OUTBOX_CHANNEL } from './catalogue.ts';
import type { EventCache } from './event-cache.ts';

interface OutboxRow {
  id: string;
  aggregate_id: string;
  payload: { version: number } & Record<string, unknown>;
  trace_context: Record<string, string>;
  created_at: Date;
  attempts: number;
}

/** `transient`: Elasticsearch itself was unreachable or overloaded, not this row's fault. */
type RelayResult = { ok: boolean; stale?: boolean; error?: string; transient?: boolean };

/** While Elasticsearch is away, waiting rows are tried this often, so they land soon after it returns. */
const TRANSIENT_MAX_DELAY_MS = 5_000;

export interface RelayOptions {
  pool: pg.Pool;
  /** Connection string for the LISTEN connection (a pooled client cannot hold a LISTEN). */
  databaseUrl: string;
  es: Elasticsearch;
  index: string;
  cache: Pick<EventCache, 'invalidate'>;
  batch: number;
  pollMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  metrics: WorkerMetrics;
  log: FastifyBaseLogger;
}

/**
 * Relays the outbox to Elasticsearch: a batch of due rows is claimed (FOR UPDATE SKIP LOCKED, so
 * several workers split the work), sent in one _bulk, and deleted in the same transaction once
 * Elasticsearch took them. Documents are indexed with the event's version as an external
 * version: a retry that arrives after a newer change is refused by Elasticsearch (409) and
 * counted as stale, so order does not matter. A failed row is retried with capped, full-jitter
 * backoff (the kit's backoffDelay) and parked (dead_at) after OUTBOX_MAX_ATTEMPTS.
 * It wakes on NOTIFY (sent by the writer's transaction on commit) and polls as a fallback.
 */
export class OutboxRelay {
  readonly #o: RelayOptions;
  #listener: pg.Client | undefined;
  #wake: (() => void) | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(options: RelayOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#listen();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    await this.#listener?.end().catch(() => undefined);
  }

  async #listen(): Promise<void> {
    const listener = new pg.Client({
      connectionString: this.#o.databaseUrl,
      application_name: 'booking-outbox-listener',
    });
    listener.on('error', (err) => {
      this.#o.log.warn({ err: err.message }, 'outbox listener failed; polling until it reconnects');
      this.#listener = undefined;
      setTimeout(() => !this.#stopped && this.#listen().catch(() => undefined), 1000).unref();
    });
    listener.on('notification', () => this.#wake?.());
    await listener.connect();
    await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
    this.#listener = listener;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce();
      } catch (error) {
        this.#o.log.warn({ err: (error as Error).message }, 'outbox relay pass failed');
      }
      if (relayed < this.#o.batch && !this.#stopped) await this.#sleep(this.#o.pollMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** One pass: returns how many rows it handled. Public so tests can drive it step by step. */
  async relayOnce(): Promise<number> {
    const { pool, metrics } = this.#o;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, aggregate_id, payload, trace_context, created_at, attempts FROM booking.outbox
         WHERE dead_at IS NULL AND next_attempt_at <= now()
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.#o.batch],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        const { rows: pending } = await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM booking.outbox WHERE dead_at IS NULL',
        );
        metrics.outboxPending.set(pending[0]!.n);
        return 0;
      }
      const links: Link[] = rows
        .map((r) => withTraceContext(r.trace_context, () => trace.getSpanContext(context.active())))
        .filter((c) => c !== undefined)
        .map((c) => ({ context: c }));
      const results = await tracer.startActiveSpan(
        'booking.outbox.relay',
        { kind: SpanKind.CONSUMER, links, attributes: { [Attr.outboxIds]: rows.map((r) => r.id).join(',') } },
        async (span) => {
          try {
            return await this.#bulk(rows);
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            const transient = isRetriable(error);
            return rows.map((): RelayResult => ({ ok: false, error: (error as Error).message, transient }));
          } finally {
            span.end();
          }
        },
      );
      const done: string[] = [];
      const now = Date.now();
      for (const [i, row] of rows.entries()) {
        const result = results[i]!;
        if (result.ok) {
          done.push(row.id);
          const lagMs = now - row.created_at.getTime();
          metrics.indexLag.observe(lagMs / 1000);
          metrics.outboxRelayed.inc({ outcome: result.stale ? 'stale' : 'indexed' });
          // A span in the writer's own trace, from the commit to the index ack: the lag, visible.
          withTraceContext(row.trace_context, () => {
            tracer
              .startSpan('booking.search.indexed', {
                startTime: row.created_at,
                attributes: { [Attr.eventId]: row.aggregate_id, [Attr.indexLagMs]: lagMs },
              })
              .end();
          });
        } else {
          const attempts = row.attempts + 1;
          // An outage of Elasticsearch is no reason to give up on a row: only failures of the row
          // itself (a mapping error, a rejected document) count towards parking it.
          const dead = !result.transient && attempts >= this.#o.maxAttempts;
          // Not the kit's retry(): the schedule lives in the row, survives restarts, parks it.
          const backoff = backoffDelay(attempts, {
            baseDelayMs: this.#o.retryBaseMs,
            maxDelayMs: result.transient ? TRANSIENT_MAX_DELAY_MS : 60_000,
          });
          await client.query(
            `UPDATE booking.outbox SET attempts = $2, last_error = $3,
               next_attempt_at = now() + make_interval(secs => $4::double precision / 1000),
               dead_at = CASE WHEN $5 THEN now() END
             WHERE id = $1`,
            [row.id, attempts, result.error?.slice(0, 500) ?? null, backoff, dead],
          );
          metrics.outboxRelayed.inc({ outcome: dead ? 'dead' : 'retry' });
        }
      }
      if (done.length) await client.query('DELETE FROM booking.outbox WHERE id = ANY($1::bigint[])', [done]);
      await client.query('COMMIT');
      // Second invalidation, after the change is long committed ("delayed double delete").
      await Promise.all(
        [...new Set(rows.map((r) => r.aggregate_id))].map((id) => this.#o.cache.invalidate(id)),
      );
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async #bulk(rows: OutboxRow[]): Promise<RelayResult[]> {
    const operations = rows.flatMap((row) => [
      {
        index: {
          _index: this.#o.index,
          _id: row.aggregate_id,
          version: row.payload.version,
          version_type: 'external' as const,
        },
      },
      row.payload,
    ]);
    const response = await this.#o.es.bulk({ operations, refresh: false });
    return response.items.map((item) => {
      const r = item.index!;
      if (r.status >= 200 && r.status < 300) return { ok: true };
      // 409 = Elasticsearch already has this version or a newer one: nothing to do.
      if (r.status === 409) return { ok: true, stale: true };
      return { ok: false, error: `${r.status} ${r.error?.type ?? ''}: ${r.error?.reason ?? ''}` };
    });
  }
}
