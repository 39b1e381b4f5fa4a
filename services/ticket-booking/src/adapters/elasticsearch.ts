import { Client } from '@elastic/elasticsearch';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { ensureIndex } from '../domain/search-index.ts';

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
    const es = new Client({
      node: opts.config.ELASTICSEARCH_URL,
      requestTimeout: opts.config.SEARCH_TIMEOUT_MS,
      maxRetries: 1,
    });
    app.kit.resources.add('elasticsearch', () => es.close());
    await ensureIndex(es, opts.config.SEARCH_INDEX, opts.config.SEARCH_REFRESH_INTERVAL, app.log);
    if (opts.readiness ?? true) app.kit.readiness.add('elasticsearch', () => es.ping());
    app.decorate('es', es);
  },
  { name: 'elasticsearch' },
);
