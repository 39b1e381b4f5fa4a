// `pnpm load:adclick-ship [N] [--batch B]`: the ad-click ingest's produce path with its batching
// (issue 17: "report ingest produce throughput with the producer's batching"). N accepted clicks
// are appended to a real spool (group commit, fdatasync), then the service's own Shipper drains
// them into a run-own topic on the real broker the way the ingest does: SHIP_BATCH_MAX clicks per
// produce request, keyed by ad id, acks from all replicas, idempotent producer. Prints clicks/s
// of each phase and this process's CPU per click (the process runs nothing else meanwhile).
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveEndpoints, uniqueId } from '@sdlab/testkit/infra';
import type { FastifyBaseLogger } from 'fastify';
import { SHIPPER_PRODUCER } from '../../services/ad-click-aggregator/src/adapters/spool-shipper.ts';
import { Shipper } from '../../services/ad-click-aggregator/src/domain/shipper.ts';
import { Spool } from '../../services/ad-click-aggregator/src/domain/spool.ts';
import { createIngestMetrics } from '../../services/ad-click-aggregator/src/telemetry.ts';
import { benchKafka } from '../src/kafka-client.ts';

// The service's own prom-client (the metrics are registered with its Registry class).
const { Registry } = createRequire(
  new URL('../../services/ad-click-aggregator/package.json', import.meta.url),
)('prom-client') as { Registry: new () => Parameters<typeof createIngestMetrics>[0] };

const PARTITIONS = 6;
/** Appends in flight at once, as concurrent requests would have them (they share one fdatasync). */
const APPENDS_IN_FLIGHT = 256;

const silent = {
  level: 'silent',
  fatal: () => undefined,
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
  silent: () => undefined,
  child: () => silent,
} as unknown as FastifyBaseLogger;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const batchAt = args.indexOf('--batch');
  const batchMax = batchAt >= 0 ? Number(args.splice(batchAt, 2)[1]) : 2000;
  const clicks = Number(args[0] ?? 200_000);
  if (!Number.isInteger(clicks) || clicks < 1000 || !Number.isInteger(batchMax) || batchMax < 1) {
    throw new Error('usage: adclick-ship.ts [clicks >= 1000] [--batch <SHIP_BATCH_MAX>]');
  }
  const { endpoints, stop } = await resolveEndpoints();
  const run = uniqueId().slice(0, 8);
  const topic = `bench-${run}.clicks`;
  const dir = await mkdtemp(join(tmpdir(), 'adclick-ship-'));
  const kafka = benchKafka(`ship-${run}`, endpoints.kafka);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const spool = await Spool.open(dir, { segmentBytes: 16 * 1_048_576, maxBytes: 1_073_741_824 });
  try {
    // Phase 1: the request path's durable step.
    let cpu = cpuMs();
    let started = performance.now();
    const now = Date.now();
    for (let i = 0; i < clicks; i += APPENDS_IN_FLIGHT) {
      const appends: Promise<void>[] = [];
      for (let j = i; j < Math.min(clicks, i + APPENDS_IN_FLIGHT); j++) {
        const adId = `sb${run}-${j % 500}`;
        appends.push(
          spool.append({
            impressionId: `${adId}.c.${j.toString(36)}.n${'x'.repeat(12)}.${'s'.repeat(22)}`,
            adId,
            campaignId: 'c',
            clickedAt: now + j,
            dedup: 'redis',
          }),
        );
      }
      await Promise.all(appends);
    }
    const appendS = (performance.now() - started) / 1000;
    const appendCpuUs = ((cpuMs() - cpu) * 1000) / clicks;

    // Phase 2: the background produce path, the service's Shipper with the ingest's producer.
    const shipper = new Shipper({
      spool,
      topic,
      batchMax,
      retryMaxMs: 5000,
      metrics: createIngestMetrics(new Registry(), { spoolBacklogBytes: () => spool.backlogBytes }),
      log: silent,
      connect: async () => {
        const producer = kafka.producer(SHIPPER_PRODUCER);
        await producer.connect();
        return producer;
      },
    });
    cpu = cpuMs();
    started = performance.now();
    shipper.start();
    for (;;) {
      const offsets = await admin.fetchTopicOffsets(topic);
      if (offsets.reduce((n, o) => n + Number(o.high), 0) >= clicks) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const shipS = (performance.now() - started) / 1000;
    const shipCpuUs = ((cpuMs() - cpu) * 1000) / clicks;
    await shipper.stop();
    const n = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d });
    process.stdout.write(
      [
        `adclick-ship: ${n(clicks)} clicks, SHIP_BATCH_MAX ${batchMax}, ${PARTITIONS} partitions, kafkajs idempotent producer, acks=all`,
        `  spool append (group commit, ${APPENDS_IN_FLIGHT} in flight): ${n(clicks / appendS)} clicks/s, ${n(appendCpuUs, 1)} µs CPU per click`,
        `  ship to Kafka (the service's Shipper): ${n(clicks / shipS)} clicks/s, ${n(shipCpuUs, 1)} µs CPU per click (${n(shipS, 1)} s)`,
        '',
      ].join('\n'),
    );
  } finally {
    await spool.close();
    await rm(dir, { recursive: true, force: true });
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await stop?.();
  }
}

await main();
