// `pnpm load ad-click-aggregator --drain N`: how fast one aggregator worker turns a backlog into
// exact counts. N click events are preloaded on a topic of the run's own, then one worker starts
// on it; the clock runs from its readiness until Postgres holds exactly N counted clicks. Where
// the CPU went (the worker, Postgres, Kafka) names the bottleneck.

import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase, type Endpoints, uniqueId } from '@sdlab/testkit/infra';
import { CompressionTypes } from 'kafkajs';
import pg from 'pg';
import { machineCpuMs, processCpuMs, processRssMb, serverCpuMs } from './cpu-usage.ts';
import { benchKafka } from './kafka-client.ts';
import { commit, machineProfile } from './machine.ts';
import { assertPortFree, startNode, waitReady } from './processes.ts';
import { REPO_ROOT } from './services.ts';

export interface DrainRecord {
  service: 'ad-click-aggregator';
  profile: 'drain';
  date: string;
  commit: string;
  command: string;
  machine: ReturnType<typeof machineProfile>;
  clicks: number;
  partitions: number;
  ads: number;
  preload: { seconds: number; perS: number };
  drain: { seconds: number; perS: number; counted: number; exact: boolean };
  /** Cores' worth of CPU each part used while draining (1 = one core busy). */
  cores: { machineBusy: number; worker: number; postgres: number; kafka: number; redis: number };
  workerMsPerClick: number;
  workerRssMb: number;
  bottleneck: string;
  passed: boolean;
}

const PARTITIONS = 6;
const ADS = 500;
const PRODUCE_BATCH = 5_000;
const POLL_MS = 500;

/** Preloads the topic: the events the ingest would have produced, keyed by ad id, in event-time order. */
async function preload(brokers: string[], topic: string, clicks: number, run: string): Promise<number> {
  const kafka = benchKafka(`drain-${run}`, brokers);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const started = performance.now();
  const base = Date.now();
  let sent = 0;
  try {
    while (sent < clicks) {
      const messages = [];
      for (let i = sent; i < Math.min(clicks, sent + PRODUCE_BATCH); i++) {
        const adId = `ld${run}-${i % ADS}`;
        messages.push({
          key: adId,
          value: JSON.stringify({
            impressionId: `dr${run}-${i.toString(36)}`,
            adId,
            campaignId: `lc${run}`,
            // One millisecond apart: in order, and all within the allowed lateness.
            clickedAt: base + Math.floor(i / 100),
            dedup: 'redis',
          }),
        });
      }
      await producer.send({ topic, messages, acks: 1, compression: CompressionTypes.None });
      sent += messages.length;
      if (sent % 100_000 === 0)
        process.stdout.write(`drain: preloaded ${sent.toLocaleString('en-US')} clicks\n`);
    }
  } finally {
    await producer.disconnect();
  }
  return (performance.now() - started) / 1000;
}

async function countedClicks(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ total: string | null }>(
    'SELECT sum(clicks)::bigint AS total FROM adclick.clicks_day',
  );
  return Number(rows[0]?.total ?? 0);
}

/** The part that was busiest, measured: a Node worker is one thread, so ~1 core is its ceiling. */
export function bottleneckOf(cores: DrainRecord['cores'], machineCores: number): string {
  const parts = [
    ['the aggregator worker (one Node thread)', cores.worker, 1],
    ['Postgres', cores.postgres, machineCores],
    ['Kafka', cores.kafka, machineCores],
  ] as const;
  const saturated = parts.find(([, used, max]) => used >= 0.85 * max);
  if (saturated) return `${saturated[0]}: ${saturated[1].toFixed(2)} cores`;
  if (cores.machineBusy >= 0.9) {
    const top = [...parts].sort((a, b) => b[1] - a[1])[0]!;
    return `the machine's ${machineCores} cores (${(cores.machineBusy * 100).toFixed(0)} % busy; the largest share ${top[0]}, ${top[1].toFixed(2)} cores)`;
  }
  return `waiting, not CPU (machine ${(cores.machineBusy * 100).toFixed(0)} % busy): round trips to Kafka and Postgres commits`;
}

export async function runDrain(
  endpoints: Endpoints,
  k6Binary: string,
  clicks: number,
  command: string,
): Promise<DrainRecord> {
  const run = uniqueId().slice(0, 8);
  const database = `load_drain_${run}`;
  const databaseUrl = await createTestDatabase(endpoints.postgres, database);
  const topic = `load-${run}.clicks`;
  const port = 9484;
  await assertPortFree(port);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    process.stdout.write(`drain: preloading ${clicks.toLocaleString('en-US')} clicks on ${topic} ...\n`);
    const preloadS = await preload(endpoints.kafka, topic, clicks, run);
    const worker = await startNode(
      'ad-click-aggregator-drain',
      join(REPO_ROOT, 'services/ad-click-aggregator'),
      'src/worker.ts',
      {
        NODE_ENV: 'production',
        SDLAB_DEV_MODE: 'true',
        LOG_LEVEL: 'warn',
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        REDIS_URL: endpoints.redis,
        KAFKA_BROKERS: endpoints.kafka.join(','),
        CLICKS_TOPIC: topic,
        CLICKS_TOPIC_PARTITIONS: String(PARTITIONS),
        DEAD_LETTER_TOPIC: `${topic}.dead-letter`,
        CONSUMER_GROUP: `load-${run}-aggregator`,
        RECONCILE_ENABLED: 'false',
      },
      join(REPO_ROOT, 'loadtests/results/logs'),
    );
    try {
      await waitReady(`http://127.0.0.1:${port}/readyz`, worker, 120_000);
      const pid = worker.child.pid!;
      const before = { worker: processCpuMs(pid) ?? 0, servers: serverCpuMs(), machine: machineCpuMs() };
      const started = performance.now();
      let counted = 0;
      let lastReport = started;
      // A drain that stops making progress for a minute has failed; it must not hang the run.
      let lastProgress = started;
      while (counted < clicks) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        const now = await countedClicks(pool);
        if (now > counted) lastProgress = performance.now();
        counted = now;
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          process.stdout.write(
            `drain: ${counted.toLocaleString('en-US')} counted after ${((lastReport - started) / 1000).toFixed(0)} s\n`,
          );
        }
        if (performance.now() - lastProgress > 60_000 || worker.child.exitCode !== null) break;
      }
      const seconds = (performance.now() - started) / 1000;
      const after = { worker: processCpuMs(pid) ?? 0, servers: serverCpuMs(), machine: machineCpuMs() };
      const wallMs = seconds * 1000;
      const total = after.machine.total - before.machine.total;
      const cores: DrainRecord['cores'] = {
        machineBusy: total > 0 ? (after.machine.busy - before.machine.busy) / total : 0,
        worker: (after.worker - before.worker) / wallMs,
        postgres: (after.servers.postgres! - before.servers.postgres!) / wallMs,
        kafka: (after.servers.kafka! - before.servers.kafka!) / wallMs,
        redis: (after.servers.redis! - before.servers.redis!) / wallMs,
      };
      const exact = counted === clicks;
      return {
        service: 'ad-click-aggregator',
        profile: 'drain',
        date: new Date().toISOString(),
        commit: commit(),
        command,
        machine: machineProfile(k6Binary),
        clicks,
        partitions: PARTITIONS,
        ads: ADS,
        preload: { seconds: preloadS, perS: clicks / preloadS },
        drain: { seconds, perS: counted / seconds, counted, exact },
        cores,
        workerMsPerClick: counted > 0 ? (after.worker - before.worker) / counted : 0,
        workerRssMb: processRssMb(pid) ?? 0,
        bottleneck: bottleneckOf(cores, availableParallelism()),
        passed: exact,
      };
    } finally {
      await worker.stop();
    }
  } finally {
    await pool.end();
    const kafka = benchKafka(`drain-${run}-cleanup`, endpoints.kafka);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [topic, `${topic}.dead-letter`] }))
      .catch(() => undefined)
      .finally(() => admin.disconnect());
    await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
  }
}

export function drainMarkdown(r: DrainRecord): string {
  const n = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d });
  return [
    `# ad-click-aggregator — drain run, ${r.date}`,
    '',
    `- commit \`${r.commit}\`; command \`${r.command}\``,
    `- machine: ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.cpuModel}; Node ${r.machine.node}`,
    `- ${n(r.clicks)} click events preloaded on a ${r.partitions}-partition topic (${r.ads} ads, keyed by ad id) in ${n(r.preload.seconds, 1)} s (${n(r.preload.perS)}/s, kafkajs, acks=1); then one aggregator worker (LOG_LEVEL=warn, no tracing, shipped defaults) drained it`,
    `- **drained ${n(r.drain.counted)} clicks in ${n(r.drain.seconds, 1)} s: ${n(r.drain.perS)} clicks/s** from readiness to the last count in Postgres; counts ${r.drain.exact ? 'exact (sum of the day roll-up = clicks produced)' : '**not exact**'}`,
    `- cores used while draining: worker ${r.cores.worker.toFixed(2)}, Postgres ${r.cores.postgres.toFixed(2)}, Kafka ${r.cores.kafka.toFixed(2)}, Redis ${r.cores.redis.toFixed(2)}; machine ${(r.cores.machineBusy * 100).toFixed(0)} % busy`,
    `- worker CPU per click: ${(r.workerMsPerClick * 1000).toFixed(1)} µs (one core: ~${n(1000 / Math.max(1e-9, r.workerMsPerClick))} clicks/s if the worker's CPU were the only limit); worker RSS after the drain ${n(r.workerRssMb)} MB`,
    `- bottleneck (measured): ${r.bottleneck}`,
    '- no load generator runs during the drain: the figure is not a generator limit',
    '',
  ].join('\n');
}
