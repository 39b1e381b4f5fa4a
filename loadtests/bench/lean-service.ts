// A service's processes as `pnpm load` starts them lean, for the bench helpers that stand a real
// service up for start-server.sh (adclick-ingest.ts, shortener-redirect.ts): a fresh database,
// topics, consumer groups and Redis keys of this run alone, LOG_LEVEL=warn, no tracing, the kit's instrument
// entry loaded, each process ready (/readyz) before the next starts. BENCH_CPUS pins them
// (`taskset -c`, as the runner pins a service); unset, they run unpinned.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  deleteRedisKeys,
  dropTestDatabase,
  resolveEndpoints,
  uniqueId,
} from '@sdlab/testkit/infra';
import { type Running, startNode, waitReady } from '../src/processes.ts';

export interface LeanProcess {
  name: string;
  entry: string;
  port: number;
  env?: Record<string, string | undefined>;
  /** Node flags of this process alone (NODEFLAGS goes to the measured one). */
  nodeFlags?: string[];
}

export interface LeanService {
  processes: Running[];
  logDir: string;
  /** Stops the processes (last started first), drops the database and unlinks the run's Redis keys; the logs stay. */
  stop(): Promise<void>;
}

/** NODEFLAGS of the bench's environment, split into arguments. */
export function benchNodeFlags(): string[] {
  return (process.env.NODEFLAGS ?? '').split(' ').filter(Boolean);
}

/**
 * Starts `services/<service>`'s processes from the checkout the caller runs in (start-server.sh
 * cds to it), so main and a branch can be measured with the same bench.
 */
export async function startLeanService(
  service: string,
  processes: LeanProcess[],
  env: Record<string, string | undefined> = {},
): Promise<LeanService> {
  const { endpoints } = await resolveEndpoints();
  const run = uniqueId().slice(0, 8);
  const database = `bench_${service.replaceAll('-', '_')}_${run}`;
  const databaseUrl = await createTestDatabase(endpoints.postgres, database);
  const logDir = await mkdtemp(join(tmpdir(), `${service}-bench-logs-`));
  const prefix = `bench-${run}`;
  const shared = {
    NODE_ENV: 'production',
    SDLAB_DEV_MODE: 'true',
    DATABASE_URL: databaseUrl,
    REDIS_URL: endpoints.redis,
    KAFKA_BROKERS: endpoints.kafka.join(','),
    ELASTICSEARCH_URL: endpoints.elasticsearch,
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
    CLICKS_TOPIC: `${prefix}.clicks`,
    DEAD_LETTER_TOPIC: `${prefix}.clicks.dead-letter`,
    CONSUMER_GROUP: `${prefix}-aggregator`,
    STATS_GROUP_ID: `${prefix}-stats`,
    // Redis keys of this run alone, unlinked at stop: a closed loop leaves ~400,000 dedup keys.
    REDIS_KEY_PREFIX: `${prefix}:`,
    ...env,
  };
  const dir = join(process.cwd(), 'services', service);
  const cpus = process.env.BENCH_CPUS || undefined;
  const running: Running[] = [];
  const stop = async () => {
    for (const proc of [...running].reverse()) await proc.stop();
    await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
    await deleteRedisKeys(endpoints.redis, `${prefix}:`).catch(() => undefined);
  };
  try {
    for (const p of processes) {
      const proc = await startNode(
        p.name,
        dir,
        p.entry,
        { ...shared, ...p.env, PORT: String(p.port) },
        logDir,
        {
          cpus,
          nodeArgs: ['--import', '@sdlab/service-kit/instrument', ...(p.nodeFlags ?? [])],
        },
      );
      running.push(proc);
      await waitReady(`http://127.0.0.1:${p.port}/readyz`, proc);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { processes: running, logDir, stop };
}

/** Removes the logs once a run ended well (a failed one keeps them to be read). */
export async function dropLogs(service: LeanService): Promise<void> {
  await rm(service.logDir, { recursive: true, force: true });
}
