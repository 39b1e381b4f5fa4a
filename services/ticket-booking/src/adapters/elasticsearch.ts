import { Client } from '@elastic/elasticsearch';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { ensureIndex } from '../domain/search-index.ts';

const INDEX_SETUP_TIMEOUT_MS = 30_000;

declare module 'fastify' {
  interface FastifyInstance {
    es: Client;
  }
}

/**
 * The Elasticsearch client, the events index ensured (explicit mapping). A readiness check only
 * where Elasticsearch is the process's job (the worker's relay): the API needs it for search alone,
 * which answers 503 SEARCH_UNAVAILABLE while it is away, and an outage must not take holds and
 * purchases out of the load balancer with it — keeping writes independent of search is what the
 * outbox is for.
 */
export const elasticsearchAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config; readiness?: boolean }) => {
    const node = opts.config.ELASTICSEARCH_URL;
    const es = new Client({ node, requestTimeout: opts.config.SEARCH_TIMEOUT_MS, maxRetries: 1 });
    app.kit.resources.add('elasticsearch', () => es.close());
    // Creating the index is a cluster-state update, far slower than the searches SEARCH_TIMEOUT_MS
    // is sized for (over 2 s on a node that has just started). The client's requestTimeout caps
    // every request on its connections, a longer per-request timeout included, so set-up gets a
    // short-lived client of its own.
    const setup = new Client({ node, requestTimeout: INDEX_SETUP_TIMEOUT_MS, maxRetries: 1 });
    try {
      await ensureIndex(setup, opts.config.SEARCH_INDEX, opts.config.SEARCH_REFRESH_INTERVAL, app.log);
    } finally {
      await setup.close();
    }
    if (opts.readiness ?? true) app.kit.readiness.add('elasticsearch', () => es.ping());
    app.decorate('es', es);
  },
  { name: 'elasticsearch' },
);
