import type { Client } from '@elastic/elasticsearch';
import { BookingErrors } from '../errors.ts';
import type { EventDocument } from './catalogue.ts';
import {
  buildSearch,
  buildSuggest,
  encodeCursor,
  InvalidCursorError,
  type SearchParams,
} from './search-query.ts';

export interface SearchPage {
  data: Omit<EventDocument, 'version'>[];
  total: number;
  nextCursor: string | null;
}

export type Suggestion = Pick<EventDocument, 'id' | 'name' | 'performer' | 'venueName' | 'city' | 'startsAt'>;

/** Event search over the index the outbox relay keeps in sync (eventually consistent, ~1 s). */
export class EventSearch {
  readonly #es: Client;
  readonly #index: string;

  constructor(es: Client, index: string) {
    this.#es = es;
    this.#index = index;
  }

  async search(params: SearchParams): Promise<SearchPage> {
    let request: ReturnType<typeof buildSearch>;
    try {
      request = buildSearch(this.#index, params);
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new BookingErrors.InvalidCursor(error.message);
      throw error;
    }
    const response = await this.#call(() => this.#es.search<EventDocument>(request));
    const hits = response.hits.hits;
    const last = hits.at(-1);
    const total =
      typeof response.hits.total === 'number' ? response.hits.total : (response.hits.total?.value ?? 0);
    return {
      data: hits.map((h) => h._source!),
      total,
      // A full page may have a next one; its cursor is the last hit's sort values.
      nextCursor:
        hits.length === params.size && last?.sort
          ? encodeCursor(last.sort as (string | number | null)[])
          : null,
    };
  }

  async suggest(prefix: string, size: number): Promise<Suggestion[]> {
    const response = await this.#call(() =>
      this.#es.search<Suggestion>(buildSuggest(this.#index, prefix, size)),
    );
    return response.hits.hits.map((h) => h._source!);
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const e = error as { meta?: { statusCode?: number }; name?: string };
      const status = e.meta?.statusCode;
      // 404 is a missing index: our side, not the query's (retriable once the worker creates it).
      if (status && status < 500 && status !== 429 && status !== 404) {
        // Elasticsearch's own words name its index, fields and internals: they stay on the
        // error's cause, the client gets a coded 400.
        throw Object.assign(new BookingErrors.SearchRefused(), { cause: error });
      }
      throw new BookingErrors.SearchUnavailable({ cause: error });
    }
  }
}
