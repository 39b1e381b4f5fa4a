import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Where the real servers a test run uses are. */
export interface Endpoints {
  source: 'env' | 'docker' | 'native';
  postgres: string;
  redis: string;
  kafka: string[];
  elasticsearch: string;
  /** OTLP/HTTP base URL (Jaeger's collector). */
  otlp?: string;
  /** Jaeger query API base URL. */
  jaeger?: string;
  prometheus?: string;
  /** Directory of Prometheus file_sd target files (native stack only). */
  prometheusTargets?: string;
  k6?: string;
}

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.SDLAB_CACHE ?? join(homedir(), '.cache', 'sdlab');
  return env.SDLAB_RUN ?? join(cache, 'run');
}

/**
 * (1) explicit environment variables, (2) a reachable Docker engine, (3) the native stack,
 * started if it is not running. Docker's containers are returned with a stop function.
 */
export async function resolveEndpoints(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ endpoints: Endpoints; stop?: () => Promise<void> }> {
  const fromEnv = endpointsFromEnv(env);
  if (fromEnv) return { endpoints: fromEnv };
  if (env.SDLAB_TEST_DOCKER !== 'false' && (await dockerReachable(env))) {
    const { startContainers } = await import('./containers.ts');
    return startContainers();
  }
  return { endpoints: await nativeEndpoints(env) };
}

export function endpointsFromEnv(env: NodeJS.ProcessEnv): Endpoints | undefined {
  const { DATABASE_URL, REDIS_URL, KAFKA_BROKERS, ELASTICSEARCH_URL } = env;
  if (!DATABASE_URL || !REDIS_URL || !KAFKA_BROKERS || !ELASTICSEARCH_URL) return undefined;
  return compact({
    source: 'env',
    postgres: DATABASE_URL,
    redis: REDIS_URL,
    kafka: KAFKA_BROKERS.split(',').map((b) => b.trim()),
    elasticsearch: ELASTICSEARCH_URL,
    otlp: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    jaeger: env.JAEGER_QUERY_URL,
    prometheus: env.PROMETHEUS_URL,
    prometheusTargets: env.PROMETHEUS_TARGETS_DIR,
    k6: env.K6_BIN,
  });
}

async function nativeEndpoints(env: NodeJS.ProcessEnv): Promise<Endpoints> {
  const file = join(runDir(env), 'endpoints.json');
  const existing = readEndpointsFile(file);
  if (existing && (await reachable(existing))) return existing;
  process.stderr.write('testkit: native servers are not running; starting them (infra/native/infra.sh up)\n');
  await promisify(execFile)('bash', [join(REPO_ROOT, 'infra/native/infra.sh'), 'up'], {
    env,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 10 * 60_000,
  });
  const started = readEndpointsFile(file);
  if (!started) throw new Error(`testkit: infra.sh up finished but ${file} is missing`);
  return started;
}

function readEndpointsFile(file: string): Endpoints | undefined {
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string | undefined>;
  if (!raw.postgres || !raw.redis || !raw.kafka || !raw.elasticsearch) return undefined;
  return compact({
    source: 'native',
    postgres: raw.postgres,
    redis: raw.redis,
    kafka: raw.kafka.split(','),
    elasticsearch: raw.elasticsearch,
    otlp: raw.otlp,
    jaeger: raw.jaeger,
    prometheus: raw.prometheus,
    prometheusTargets: raw.prometheusTargets,
    k6: raw.k6,
  });
}

async function reachable(endpoints: Endpoints): Promise<boolean> {
  const targets = [new URL(endpoints.postgres), new URL(endpoints.redis), new URL(endpoints.elasticsearch)];
  const kafka = endpoints.kafka[0]?.split(':');
  const checks = targets.map((url) => tcpOpen(url.hostname, Number(url.port)));
  if (kafka) checks.push(tcpOpen(kafka[0]!, Number(kafka[1])));
  return (await Promise.all(checks)).every(Boolean);
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A Docker engine answers `/_ping` on its socket (DOCKER_HOST or the default unix socket). */
async function dockerReachable(env: NodeJS.ProcessEnv): Promise<boolean> {
  const host = env.DOCKER_HOST;
  const socketPath = host?.startsWith('unix://')
    ? host.slice('unix://'.length)
    : host
      ? undefined
      : '/var/run/docker.sock';
  if (host && !socketPath) return true; // a TCP engine: let testcontainers connect and report
  if (!socketPath || !existsSync(socketPath)) return false;
  const { request } = await import('node:http');
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function compact(value: Endpoints): Endpoints {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as unknown as Endpoints;
}
