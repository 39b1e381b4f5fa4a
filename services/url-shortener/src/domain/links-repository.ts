import { withClient } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import { asStoreError } from '../errors.ts';
import type { ServiceMetrics } from '../telemetry.ts';

/** What the redirect path needs to know about a code (and what the caches hold). */
export interface CachedLink {
  url: string;
  /** Epoch ms, or null for a link that never expires. */
  expiresAt: number | null;
}

export interface NewLink {
  code: string;
  url: string;
  isAlias: boolean;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface IdempotencyRecord<R> {
  key: string;
  requestHash: string;
  ttlSeconds: number;
  response: R;
}

export type InsertOutcome<R> =
  | { kind: 'created' }
  | { kind: 'code-taken' }
  | { kind: 'replay'; requestHash: string; response: R };

export interface LinkStats {
  totalClicks: number;
  lastClickAt: Date | null;
}

const FIND_LINK = {
  name: 'shortener-find-link',
  text: 'SELECT long_url, expires_at FROM shortener.links WHERE code = $1',
};
// Named, as FIND_LINK: each pooled connection parses and plans it once, not on every create.
const INSERT_LINK = {
  name: 'shortener-insert-link',
  text: `INSERT INTO shortener.links (code, long_url, is_alias, created_at, expires_at)
  VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING RETURNING code`,
};
// Takes the key, or takes it over once its record has expired; a live record leaves no row
// returned. A concurrent create with the same key waits here until the first commits or aborts.
const CLAIM_IDEMPOTENCY_KEY = `INSERT INTO shortener.idempotency_keys (key, request_hash, response, expires_at)
  VALUES ($1, $2, $3, now() + make_interval(secs => $4))
  ON CONFLICT (key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, response = EXCLUDED.response,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE shortener.idempotency_keys.expires_at <= now()
  RETURNING key`;
const READ_IDEMPOTENCY_KEY = `SELECT request_hash, response FROM shortener.idempotency_keys
  WHERE key = $1 AND expires_at > now()`;

/**
 * Links in Postgres, the source of truth behind the caches. It counts its reads (`reads` and
 * sdlab_shortener_db_reads_total) so the stampede tests can see exactly how often a lookup got here.
 */
export class LinksRepository {
  readonly #pool: pg.Pool;
  readonly #metrics: ServiceMetrics;
  #reads = 0;

  constructor(pool: pg.Pool, metrics: ServiceMetrics) {
    this.#pool = pool;
    this.#metrics = metrics;
  }

  /** Postgres reads of a link made by this instance. */
  get reads(): number {
    return this.#reads;
  }

  async findByCode(code: string): Promise<CachedLink | null> {
    this.#reads++;
    this.#metrics.dbReads.inc();
    try {
      const { rows } = await this.#pool.query<{ long_url: string; expires_at: Date | null }>({
        ...FIND_LINK,
        values: [code],
      });
      const row = rows[0];
      return row ? { url: row.long_url, expiresAt: row.expires_at?.getTime() ?? null } : null;
    } catch (error) {
      throw asStoreError(error);
    }
  }

  /**
   * Inserts a link; with an idempotency record, claims the key in the same transaction, so a
   * create either leaves both rows or neither (a crash or a dead connection rolls both back).
   */
  async insert<R>(link: NewLink, idempotency?: IdempotencyRecord<R>): Promise<InsertOutcome<R>> {
    const values = [link.code, link.url, link.isAlias, link.createdAt, link.expiresAt];
    try {
      if (!idempotency) {
        const { rowCount } = await this.#pool.query({ ...INSERT_LINK, values });
        return rowCount === 1 ? { kind: 'created' } : { kind: 'code-taken' };
      }
      for (;;) {
        const outcome = await this.#insertIdempotent(values, idempotency);
        if (outcome !== undefined) return outcome;
      }
    } catch (error) {
      throw asStoreError(error);
    }
  }

  /** undefined: the key's record expired between two statements and is free again; try again. */
  async #insertIdempotent<R>(
    values: unknown[],
    record: IdempotencyRecord<R>,
  ): Promise<InsertOutcome<R> | undefined> {
    return withClient(this.#pool, async (client) => {
      try {
        await client.query('BEGIN');
        const claimed = await client.query(CLAIM_IDEMPOTENCY_KEY, [
          record.key,
          record.requestHash,
          JSON.stringify(record.response),
          record.ttlSeconds,
        ]);
        if (claimed.rowCount === 0) {
          await client.query('ROLLBACK');
          const { rows } = await client.query<{ request_hash: string; response: R }>(READ_IDEMPOTENCY_KEY, [
            record.key,
          ]);
          const first = rows[0];
          if (!first) return undefined;
          return { kind: 'replay', requestHash: first.request_hash, response: first.response };
        }
        const inserted = await client.query({ ...INSERT_LINK, values });
        if (inserted.rowCount === 0) {
          await client.query('ROLLBACK');
          return { kind: 'code-taken' };
        }
        await client.query('COMMIT');
        return { kind: 'created' };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** Click totals for a link, or undefined when no such link exists. */
  async stats(code: string): Promise<LinkStats | undefined> {
    try {
      const { rows } = await this.#pool.query<{ total_clicks: string | null; last_click_at: Date | null }>(
        `SELECT s.total_clicks, s.last_click_at
           FROM shortener.links l LEFT JOIN shortener.link_stats s ON s.code = l.code
          WHERE l.code = $1`,
        [code],
      );
      const row = rows[0];
      if (!row) return undefined;
      return { totalClicks: Number(row.total_clicks ?? 0), lastClickAt: row.last_click_at };
    } catch (error) {
      throw asStoreError(error);
    }
  }
}
