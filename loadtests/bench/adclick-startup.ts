// How long the ad-click ingest takes from process start to ready (/readyz answers 200), on a fresh
// spool directory each start, for each SPOOL_SEGMENT_BYTES given, alternating, ROUNDS times (3).
// The spool zero-fills its first segment when it opens (services/ad-click-aggregator spool.ts).
//   node --conditions=@sdlab/source loadtests/bench/adclick-startup.ts 16777216 4096
// Prints one line per start: segment bytes, milliseconds to ready; then the median of each.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase, resolveEndpoints, uniqueId } from '@sdlab/testkit/infra';

const sizes = process.argv.slice(2);
if (sizes.length === 0) throw new Error('usage: adclick-startup.ts <segment bytes> ...');
const rounds = Number(process.env.ROUNDS ?? 3);
const { endpoints } = await resolveEndpoints();
const database = `bench_adclick_startup_${uniqueId().slice(0, 8)}`;
const databaseUrl = await createTestDatabase(endpoints.postgres, database);
const port = 28000 + Math.floor(Math.random() * 1000);
const times = new Map<string, number[]>(sizes.map((s) => [s, []]));

async function startOnce(segmentBytes: string): Promise<number> {
  const spoolDir = await mkdtemp(join(tmpdir(), 'adclick-startup-spool-'));
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--conditions=@sdlab/source', '--import', '@sdlab/service-kit/instrument', 'src/main.ts'],
    {
      cwd: join(process.cwd(), 'services', 'ad-click-aggregator'),
      env: {
        ...process.env,
        NODE_ENV: 'production',
        SDLAB_DEV_MODE: 'true',
        DATABASE_URL: databaseUrl,
        REDIS_URL: endpoints.redis,
        KAFKA_BROKERS: endpoints.kafka.join(','),
        LOG_LEVEL: 'warn',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        PORT: String(port),
        SPOOL_DIR: spoolDir,
        SPOOL_SEGMENT_BYTES: segmentBytes,
      },
      stdio: 'ignore',
    },
  );
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the ingest exited with ${child.exitCode}`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    await rm(spoolDir, { recursive: true, force: true });
  }
}

try {
  for (let round = 0; round < rounds; round++) {
    for (const size of sizes) {
      const ms = await startOnce(size);
      times.get(size)!.push(ms);
      console.log(`segment_bytes=${size} ready_ms=${ms.toFixed(0)}`);
    }
  }
  for (const [size, ms] of times) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(
      `segment_bytes=${size} median_ready_ms=${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} (${sorted.map((m) => m.toFixed(0)).join(', ')})`,
    );
  }
} finally {
  await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
}
