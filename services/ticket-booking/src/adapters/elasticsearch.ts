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

/** The Elasticsearch client: the events index ensured (explicit mapping), checked by /readyz. */
export const elasticsearchAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const es = new Client({
      node: opts.config.ELASTICSEARCH_URL,
      requestTimeout: opts.config.SEARCH_TIMEOUT_MS,
      maxRetries: 1,
    });
    app.kit.resources.add('elasticsearch', () => es.close());
    await ensureIndex(es, opts.config.SEARCH_INDEX, opts.config.SEARCH_REFRESH_INTERVAL, app.log);
    app.kit.readiness.add('elasticsearch', () => es.ping());
    app.decorate('es', es);
  },
  { name: 'elasticsearch' },
);
