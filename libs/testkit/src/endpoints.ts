import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chooseEndpointSource } from './endpoint-source.ts';

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
const INFRA_SH = join(REPO_ROOT, 'infra/native/infra.sh');

export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.SDLAB_CACHE ?? join(homedir(), '.cache', 'sdlab');
  return env.SDLAB_RUN ?? join(cache, 'run');
}

/**
 * (1) explicit environment variables, (2) Docker when asked for (SDLAB_TEST_DOCKER=true), (3) the
 * native stack when it runs, (4) the native stack started when it is installed, (5) Docker when an
 * engine answers and nothing native is installed. Docker's containers are returned with a stop
 * function.
 */
export async function resolveEndpoints(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ endpoints: Endpoints; stop?: () => Promise<void> }> {
  const fromEnv = endpointsFromEnv(env);
  const existing = fromEnv ? undefined : readEndpointsFile(join(runDir(env), 'endpoints.json'));
  const running = existing !== undefined && (await reachable(existing));
  const source = await chooseEndpointSource({
    envComplete: fromEnv !== undefined,
    dockerFlag: env.SDLAB_TEST_DOCKER,
    nativeRunning: running,
    nativeInstalled: () => nativeInstalled(env),
    dockerAnswers: () => dockerReachable(env),
  });
  if (source === 'env' && fromEnv) return { endpoints: fromEnv };
  if (source === 'docker') {
    const { startContainers } = await import('./containers.ts');
    return startContainers(env);
  }
  if (running && existing) return { endpoints: existing };
  return { endpoints: await startNative(env) };
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

async function startNative(env: NodeJS.ProcessEnv): Promise<Endpoints> {
  const file = join(runDir(env), 'endpoints.json');
  process.stderr.write('testkit: native servers are not running; starting them (infra/native/infra.sh up)\n');
  try {
    await promisify(execFile)('bash', [INFRA_SH, 'up'], {
      env,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 10 * 60_000,
    });
  } catch (error) {
    // infra.sh logs to both streams; its last lines name the server that failed and why.
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    const detail = `${stdout}${stderr}`.trim().split('\n').slice(-8).join('\n') || String(error);
    throw new Error(
      `testkit: could not start the native servers:\n${detail}\n` +
        'Install them once with `pnpm infra:install`, or point DATABASE_URL, REDIS_URL, KAFKA_BROKERS and ' +
        'ELASTICSEARCH_URL at servers you run, or set SDLAB_TEST_DOCKER=true to use Docker.',
    );
  }
  const started = readEndpointsFile(file);
  if (!started) throw new Error(`testkit: infra.sh up finished but ${file} is missing`);
  return started;
}

/** `infra.sh installed` exits 0 when every native server is installed. */
async function nativeInstalled(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await promisify(execFile)('bash', [INFRA_SH, 'installed'], { env, timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
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
export async function dockerReachable(env: NodeJS.ProcessEnv): Promise<boolean> {
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
