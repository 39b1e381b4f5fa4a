import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ProducerConfig } from 'kafkajs';
import type { Config } from '../config.ts';
import { Shipper } from '../domain/shipper.ts';
import { Spool } from '../domain/spool.ts';
import { createIngestMetrics, type IngestMetrics } from '../telemetry.ts';
import { createKafka, ensureClickTopics, type SocketFactory } from './kafka.ts';
import { KeyedPartitioner } from './keyed-partitioner.ts';

declare module 'fastify' {
  interface FastifyInstance {
    spool: Spool;
    ingestMetrics: IngestMetrics;
  }
}

/**
 * The ingest's durable spool and the shipper that drains it into Kafka. Kafka is deliberately not
 * a readiness check here: taking the ingest out of the load balancer while Kafka is away is exactly
 * what the spool exists to avoid. The spool's backlog and the produce failures are the signals.
 */
/** The ingest's producer: what the Shipper sends with (also what `pnpm load:adclick-ship` measures). */
export const SHIPPER_PRODUCER: ProducerConfig = {
  // Murmur2 of the key, as the Java client: an ad's clicks always land on one partition.
  createPartitioner: KeyedPartitioner,
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
};

export const spoolAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config; socketFactory?: SocketFactory }) => {
    const { config } = opts;
    let spool: Spool | undefined;
    const metrics = createIngestMetrics(app.kit.metrics, {
      spoolBacklogBytes: () => spool?.backlogBytes ?? 0,
    });
    spool = await Spool.open(config.SPOOL_DIR, {
      segmentBytes: config.SPOOL_SEGMENT_BYTES,
      maxBytes: config.SPOOL_MAX_BYTES,
      commitDelayMs: config.SPOOL_COMMIT_DELAY_MS,
      onSync: (seconds, records) => {
        metrics.spoolSync.observe(seconds);
        metrics.spoolBatch.observe(records);
      },
      onCorrupt: (position) => app.log.warn({ position }, 'skipped an unreadable spool line (torn write)'),
    });
    const opened = spool;
    app.kit.resources.add('spool', () => opened.close());
    app.kit.readiness.add('spool', async () => {
      if (opened.backlogBytes >= config.SPOOL_MAX_BYTES) throw new Error('spool is full');
    });

    const kafka = createKafka(config, `${app.kit.name}-ingest`, app.log, opts.socketFactory);
    let topicsReady = false;
    const shipper = new Shipper({
      spool: opened,
      topic: config.CLICKS_TOPIC,
      batchMax: config.SHIP_BATCH_MAX,
      lingerMs: config.SHIP_LINGER_MS,
      retryMaxMs: config.SHIP_RETRY_MAX_MS,
      metrics,
      log: app.log,
      // Connecting lazily lets the ingest start, and answer, while Kafka is unreachable.
      connect: async () => {
        if (!topicsReady) {
          const admin = kafka.admin();
          await admin.connect();
          try {
            await ensureClickTopics(admin, config, app.log);
            topicsReady = true;
          } finally {
            await admin.disconnect();
          }
        }
        const producer = kafka.producer(SHIPPER_PRODUCER);
        await producer.connect();
        return producer;
      },
    });
    shipper.start();
    app.kit.resources.add('spool-shipper', () => shipper.stop());
    app.decorate('spool', opened);
    app.decorate('ingestMetrics', metrics);
  },
  { name: 'spool' },
);
