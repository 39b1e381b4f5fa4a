// The ad-click ingest as `pnpm load` runs it, for loadtests/bench/per-core-closed-loop.sh (kind
// `clicks`): a fresh database and run-own topics, the aggregation worker and the ingest API (lean:
// LOG_LEVEL=warn, no tracing, the kit's instrument entry loaded), ADS ads registered through the
// API, and a file of signed impression ids, each used once, so every request of the closed loop is a
// first click that dedup, the spool and the shipper really handle. Prints one JSON line
// ({"listening", "pid", "workerPid", ...}) once everything answers, then runs until SIGTERM, when it
// stops both processes and drops the database and the spool. The worker listens on <port> + 1.
//   node --conditions=@sdlab/source loadtests/bench/adclick-ingest.ts <port> <ids dir>
// NODEFLAGS (e.g. --cpu-prof --cpu-prof-dir=...) is passed to the ingest only.
// `... adclick-ingest.ts --ids-only <ids dir>` writes the id files and exits (the bare 302 is
// driven with the same paths, so both sides cost the generator the same).
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devToken } from '@sdlab/service-kit/auth';
import { createTestDatabase, dropTestDatabase, resolveEndpoints, uniqueId } from '@sdlab/testkit/infra';
import { DEV_IMPRESSION_KEY } from '../../services/ad-click-aggregator/src/config.ts';
import { signImpression } from '../../services/ad-click-aggregator/src/domain/impression.ts';
import { type Running, startNode, waitReady } from '../src/processes.ts';

const ADS = 50;
/** More than a closed loop can use in 4 s of warm-up and 10 s measured (the Lua script reports a shortfall). */
const WARM_IDS = 200_000;
const RUN_IDS = 400_000;

/** Two files of fresh ids in `dir`: warm.txt for the warm-up, run.txt for the measured run. */
async function writeIdFiles(dir: string): Promise<void> {
  await writeIds(join(dir, 'warm.txt'), WARM_IDS);
  await writeIds(join(dir, 'run.txt'), RUN_IDS);
}

async function writeIds(file: string, count: number): Promise<void> {
  const out = createWriteStream(file);
  const issuedAt = Date.now();
  for (let i = 0; i < count; i++) {
    const id = signImpression(DEV_IMPRESSION_KEY, {
      adId: `bench-ad-${i % ADS}`,
      campaignId: 'bench',
      issuedAt,
    });
    if (!out.write(`${id}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--ids-only') {
    await writeIdFiles(args[1]!);
    return;
  }
  const [portArg, idsDir] = args;
  const port = Number(portArg);
  if (!Number.isInteger(port) || !idsDir) throw new Error('usage: adclick-ingest.ts <port> <ids dir>');
  const { endpoints } = await resolveEndpoints();
  const run = uniqueId().slice(0, 8);
  const database = `bench_adclick_${run}`;
  const databaseUrl = await createTestDatabase(endpoints.postgres, database);
  const spoolDir = await mkdtemp(join(tmpdir(), 'adclick-bench-spool-'));
  const logDir = await mkdtemp(join(tmpdir(), 'adclick-bench-logs-'));
  const prefix = `bench-${run}`;
  const env = {
    NODE_ENV: 'production',
    SDLAB_DEV_MODE: 'true',
    DATABASE_URL: databaseUrl,
    REDIS_URL: endpoints.redis,
    KAFKA_BROKERS: endpoints.kafka.join(','),
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
    CLICKS_TOPIC: `${prefix}.clicks`,
    DEAD_LETTER_TOPIC: `${prefix}.clicks.dead-letter`,
    CONSUMER_GROUP: `${prefix}-aggregator`,
    STATS_GROUP_ID: `${prefix}-stats`,
    SPOOL_DIR: spoolDir,
  };
  // The checkout the caller runs in (per-core-closed-loop.sh cds to it), so main and a branch can be
  // measured with the same bench.
  const dir = join(process.cwd(), 'services/ad-click-aggregator');
  const instrument = ['--import', '@sdlab/service-kit/instrument'];
  const running: Running[] = [];
  const cleanUp = async () => {
    for (const proc of running.reverse()) await proc.stop();
    await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
    await rm(spoolDir, { recursive: true, force: true });
  };
  try {
    const workerPort = port + 1;
    const worker = await startNode(
      'worker',
      dir,
      'src/worker.ts',
      { ...env, PORT: String(workerPort) },
      logDir,
      {
        nodeArgs: instrument,
      },
    );
    running.push(worker);
    await waitReady(`http://127.0.0.1:${workerPort}/readyz`, worker);
    const nodeFlags = (process.env.NODEFLAGS ?? '').split(' ').filter(Boolean);
    const ingest = await startNode('ingest', dir, 'src/main.ts', { ...env, PORT: String(port) }, logDir, {
      nodeArgs: [...instrument, ...nodeFlags],
    });
    running.push(ingest);
    const base = `http://127.0.0.1:${port}`;
    await waitReady(`${base}/readyz`, ingest);
    const token = await devToken('sdlab-ads', ['advertiser']);
    for (let i = 0; i < ADS; i++) {
      const response = await fetch(`${base}/ads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          adId: `bench-ad-${i}`,
          campaignId: 'bench',
          targetUrl: `https://shop.example.com/landing/${i}`,
        }),
      });
      if (response.status !== 201)
        throw new Error(`POST /ads answered ${response.status}: ${await response.text()}`);
    }
    await writeIdFiles(idsDir);
    process.stdout.write(
      `${JSON.stringify({ listening: base, pid: ingest.child.pid, workerPid: worker.child.pid, ids: idsDir, logs: logDir })}\n`,
    );
  } catch (error) {
    await cleanUp();
    throw error;
  }
  await once(process, 'SIGTERM');
  await cleanUp();
  await rm(logDir, { recursive: true, force: true });
}

await main();
