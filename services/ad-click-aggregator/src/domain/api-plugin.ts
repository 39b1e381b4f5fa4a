import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Config, dedupTtlS } from '../config.ts';
import { type AdDirectory, type AdsRepository, createAdDirectory, createAdsRepository } from './ads.ts';
import { DedupBatch } from './dedup-batch.ts';
import { type ClickIngest, createClickIngest } from './ingest.ts';
import { type ClickQueries, createClickQueries } from './queries.ts';
import type { ReconcileReport } from './reconcile.ts';
import { type ReconcileJobData, reconcileQueue } from './reconcile-job.ts';
import { createTopK, type TopK } from './topk.ts';

declare module 'fastify' {
  interface FastifyInstance {
    ads: AdsRepository;
    adDirectory: AdDirectory;
    clickIngest: ClickIngest;
    clickQueries: ClickQueries;
    topK: TopK;
    reconcileQueue: Queue<ReconcileJobData, ReconcileReport>;
  }
}

/** The ingest and query side's domain: ads, click acceptance, roll-up reads, top-K. */
export const apiPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config; now: () => number }) => {
    const { config } = opts;
    const ads = createAdsRepository(app.pg);
    const adDirectory = createAdDirectory(ads, { ttlMs: config.AD_CACHE_TTL_MS, max: config.AD_CACHE_MAX });
    app.decorate('ads', ads);
    app.decorate('adDirectory', adDirectory);
    app.decorate(
      'clickIngest',
      createClickIngest({
        config,
        redis: app.redis,
        dedup: new DedupBatch(app.redis, dedupTtlS(config), {
          onBatch: (keys) => app.ingestMetrics.dedupBatch.observe(keys),
        }),
        keys: app.keys,
        spool: app.spool,
        ads: adDirectory,
        metrics: app.ingestMetrics,
        log: app.log,
        now: opts.now,
      }),
    );
    app.decorate(
      'clickQueries',
      createClickQueries(app.pg, { topic: config.CLICKS_TOPIC, latenessMs: config.ALLOWED_LATENESS_MS }),
    );
    app.decorate(
      'topK',
      createTopK({
        redis: app.redis,
        pool: app.pg,
        keys: app.keys,
        ttlSeconds: config.TOPK_TTL_S,
        log: app.log,
      }),
    );
    const queue = reconcileQueue(config.REDIS_URL, app.keys);
    app.kit.resources.add('reconcile-queue', () => queue.close());
    app.decorate('reconcileQueue', queue);
  },
  { name: 'domain', dependencies: ['postgres', 'redis', 'spool'] },
);
