// The module object, not a named import: the HTTP instrumentation patches `http.request` on it,
// and a binding taken at import time would keep the unpatched function (no client span, and the
// trace would not continue at the other side).
import http from 'node:http';
import { withTraceContext } from '@sdlab/service-kit';
import { backoffDelay } from '@sdlab/service-kit/retry';
import { SIGNATURE_HEADER, signWebhook } from '@sdlab/service-kit/webhook-signature';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { Metrics } from '../telemetry.ts';

const MAX_RETRY_DELAY_MS = 60_000;

interface Due {
  id: string;
  event_id: string;
  body: unknown;
  trace_context: Record<string, string>;
  attempts: number;
}

export interface DispatcherOptions {
  pool: pg.Pool;
  url: string;
  secret: string;
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  pollMs: number;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

/**
 * Sends due webhook deliveries: claims a batch by pushing their next attempt into the future (a
 * lease, so two provider instances never send the same row at once and no transaction stays open
 * during HTTP), posts each, then marks it delivered or schedules a retry with capped backoff.
 * Delivery is at least once: a receiver must dedupe by event id.
 */
export class WebhookDispatcher {
  readonly #o: DispatcherOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  start(): void {
    this.#schedule(0);
  }

  /** Wakes the loop now (after a charge), instead of at the next poll. */
  kick(delayMs = 0): void {
    if (this.#stopped) return;
    setTimeout(() => this.#runOnce(), delayMs).unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      await this.#runOnce();
      this.#schedule(this.#o.pollMs);
    }, ms);
  }

  async #runOnce(): Promise<void> {
    if (this.#running || this.#stopped) return this.#running;
    this.#running = this.#deliverDue()
      .catch((err) => this.#o.log.warn({ err }, 'webhook dispatch failed'))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #deliverDue(): Promise<void> {
    const { pool } = this.#o;
    const { rows } = await pool.query<Due>(
      `UPDATE payments.webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $1::double precision / 1000)
       WHERE id IN (SELECT id FROM payments.webhook_deliveries
                    WHERE delivered_at IS NULL AND next_attempt_at <= now() AND attempts < $2
                    ORDER BY next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED)
       RETURNING id, event_id, body, trace_context, attempts`,
      [this.#o.timeoutMs * 2, this.#o.maxAttempts],
    );
    await Promise.all(rows.map((row) => withTraceContext(row.trace_context, () => this.#deliver(row))));
  }

  async #deliver(row: Due): Promise<void> {
    const { pool, metrics } = this.#o;
    const body = JSON.stringify(row.body);
    try {
      await post(this.#o.url, body, signWebhook(this.#o.secret, body), this.#o.timeoutMs);
      await pool.query(
        'UPDATE payments.webhook_deliveries SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1',
        [row.id],
      );
      metrics.webhooks.inc({ outcome: 'delivered' });
    } catch (error) {
      const attempts = row.attempts + 1;
      // The kit's backoff, but the wait is kept in the row (next_attempt_at), not slept here: the
      // delivery outlives this process and any instance may take the retry.
      const backoff = backoffDelay(attempts, {
        baseDelayMs: this.#o.retryBaseMs,
        maxDelayMs: MAX_RETRY_DELAY_MS,
      });
      await pool.query(
        `UPDATE payments.webhook_deliveries
         SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4::double precision / 1000)
         WHERE id = $1`,
        [row.id, attempts, String(error).slice(0, 500), backoff],
      );
      const gaveUp = attempts >= this.#o.maxAttempts;
      metrics.webhooks.inc({ outcome: gaveUp ? 'gave_up' : 'retry' });
      this.#o.log.warn({ eventId: row.event_id, attempts, gaveUp, err: error }, 'webhook delivery failed');
    }
  }
}

/** node:http rather than fetch: the kit's HTTP instrumentation sees it and carries the trace. */
function post(url: string, body: string, signature: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          [SIGNATURE_HEADER]: signature,
        },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode && res.statusCode < 300
            ? resolve()
            : reject(new Error(`receiver answered ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
