import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { createServiceMetrics, type ServiceMetrics } from '../telemetry.ts';
import { ClickPublisher } from './click-publisher.ts';
import { IdAllocator } from './id-allocator.ts';
import { IdHighWater } from './id-high-water.ts';
import { LinkCache } from './link-cache.ts';
import { LinkCreator } from './link-creator.ts';
import { LinksRepository } from './links-repository.ts';
import { CodeScrambler } from './scramble.ts';

export interface Shortener {
  metrics: ServiceMetrics;
  links: LinksRepository;
  cache: LinkCache;
  ids: IdAllocator;
  creator: LinkCreator;
  clicks: ClickPublisher;
}

declare module 'fastify' {
  interface FastifyInstance {
    shortener: Shortener;
  }
}

/** The shortener's domain objects over the adapters, decorated once as `app.shortener`. */
export const shortenerDomain = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const metrics = createServiceMetrics(app.kit.metrics);
    const links = new LinksRepository(app.pg, metrics);
    const cache = new LinkCache({
      redis: app.redis,
      keys: app.keys,
      store: links,
      metrics,
      log: app.log,
      settings: config,
    });
    const ids = new IdAllocator({
      redis: app.redis,
      highWater: new IdHighWater(app.pg),
      counterKey: app.keys.idCounter,
      blockSize: config.ID_BLOCK_SIZE,
      refillAt: config.ID_REFILL_AT,
      metrics,
      log: app.log,
    });
    await ids.start();
    const creator = new LinkCreator({
      ids,
      scrambler: new CodeScrambler(config.ID_SCRAMBLE_KEY),
      links,
      cache,
      metrics,
      publicBaseUrl: config.PUBLIC_BASE_URL,
      idempotencyTtlS: config.IDEMPOTENCY_TTL_S,
    });
    const clicks = new ClickPublisher({
      producer: app.clicksProducer,
      topic: config.CLICKS_TOPIC,
      partitions: app.clicksPartitions,
      flushMs: config.CLICK_FLUSH_MS,
      batchMax: config.CLICK_BATCH_MAX,
      bufferMax: config.CLICK_BUFFER_MAX,
      metrics,
      log: app.log,
    });
    // Registered after the producer, so it is closed before it: buffered clicks are sent first.
    app.kit.resources.add('click-publisher', () => clicks.drain());
    app.decorate('shortener', { metrics, links, cache, ids, creator, clicks });
  },
  { name: 'shortener-domain', dependencies: ['postgres', 'redis', 'kafka-producer'] },
);
