// The ad-click ingest as `pnpm load` runs it, for loadtests/bench/start-server.sh (kind `clicks`):
// lean-service.ts starts the aggregation worker and the ingest API on a fresh database and run-own
// topics, then this registers ADS ads through the API and writes files of signed impression ids,
// each used once, so every request of the bench is a first click that dedup, the spool and the
// shipper really handle. Prints one JSON line ({"listening", "pid", "workerPid", ...}) once
// everything answers, then runs until SIGTERM, when it stops both processes and drops the database
// and the spool. The worker listens on <port> + 1.
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
import { DEV_IMPRESSION_KEY } from '../../services/ad-click-aggregator/src/config.ts';
import { signImpression } from '../../services/ad-click-aggregator/src/domain/impression.ts';
import { benchNodeFlags, dropLogs, startLeanService } from './lean-service.ts';

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
  const spoolDir = await mkdtemp(join(tmpdir(), 'adclick-bench-spool-'));
  const service = await startLeanService(
    'ad-click-aggregator',
    [
      { name: 'worker', entry: 'src/worker.ts', port: port + 1 },
      { name: 'ingest', entry: 'src/main.ts', port, nodeFlags: benchNodeFlags() },
    ],
    { SPOOL_DIR: spoolDir },
  ).catch(async (error: unknown) => {
    await rm(spoolDir, { recursive: true, force: true });
    throw error;
  });
  const cleanUp = async () => {
    await service.stop();
    await rm(spoolDir, { recursive: true, force: true });
  };
  const [worker, ingest] = service.processes;
  const base = `http://127.0.0.1:${port}`;
  try {
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
      `${JSON.stringify({ listening: base, pid: ingest!.child.pid, workerPid: worker!.child.pid, ids: idsDir, logs: service.logDir })}\n`,
    );
  } catch (error) {
    await cleanUp();
    throw error;
  }
  await once(process, 'SIGTERM');
  await cleanUp();
  await dropLogs(service);
}

await main();
