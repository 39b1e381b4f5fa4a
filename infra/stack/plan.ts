/**
 * The native stack's plan, derived from docker-compose.yml so the two cannot drift: every service
 * compose builds from this repo runs natively with the same port, entry point and environment,
 * with container host names swapped for the native servers' addresses.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEnv } from 'node:util';
import { interpolate, isOneShotJob, parseComposeYaml, servicesOf } from '../compose/validate-compose.ts';

/** Native addresses of the infrastructure, as infra/native writes them to endpoints.json. */
export interface NativeEndpoints {
  postgres: string;
  redis: string;
  kafka: string;
  elasticsearch: string;
  otlp?: string;
}

export interface PlannedProcess {
  /** Compose service name. */
  name: string;
  /** Folder the process runs in, e.g. services/url-shortener. */
  dir: string;
  /** Source entry, e.g. src/main.ts for a compose command running dist/main.js. */
  entry: string;
  port: number;
  env: Record<string, string>;
  /** Other planned processes it must wait for (compose depends_on among app services). */
  dependsOn: string[];
}

const INFRA_URL_KEYS = [
  'DATABASE_URL',
  'REDIS_URL',
  'KAFKA_BROKERS',
  'ELASTICSEARCH_URL',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
];

export function planFromCompose(
  repoRoot: string,
  native: NativeEndpoints,
  database = 'sdlab',
): PlannedProcess[] {
  const raw = parseComposeYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'));
  const env = parseEnv(readFileSync(join(repoRoot, '.env'), 'utf8'));
  const services = servicesOf(interpolate(raw, { ...env, ...process.env }).value);
  const built = [...services].filter(([, s]) => s.build !== undefined);
  const appNames = new Set(built.map(([name]) => name));
  // One-shot jobs (the seed) are not processes to keep running: jobsFromCompose lists them.
  const apps = built.filter(([name, s]) => !isOneShotJob(name, s, services));
  const processNames = new Set(apps.map(([name]) => name));

  const plan = apps.map(([name, service]): PlannedProcess => {
    const environment = toEnv(service.environment);
    const port = Number(environment.PORT);
    if (!Number.isInteger(port)) throw new Error(`stack: compose service ${name} sets no numeric PORT`);
    return {
      name,
      dir: dirname(String((service.build as { dockerfile?: string }).dockerfile ?? '')),
      entry: entryOf(service.command),
      port,
      env: nativeEnv(environment, native, database, appNames),
      dependsOn: Object.keys((service.depends_on as Record<string, unknown>) ?? {}).filter((d) =>
        processNames.has(d),
      ),
    };
  });
  return startOrder(plan);
}

function toEnv(environment: unknown): Record<string, string> {
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((line) => String(line).split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
  }
  return Object.fromEntries(
    Object.entries((environment as Record<string, unknown>) ?? {}).map(([k, v]) => [k, String(v)]),
  );
}

/** A one-shot job compose runs once (e.g. the booking seed), and the processes it needs up first. */
export interface PlannedJob {
  name: string;
  dir: string;
  entry: string;
  env: Record<string, string>;
  after: string[];
}

export function jobsFromCompose(repoRoot: string, native: NativeEndpoints, database = 'sdlab'): PlannedJob[] {
  const raw = parseComposeYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'));
  const env = parseEnv(readFileSync(join(repoRoot, '.env'), 'utf8'));
  const services = servicesOf(interpolate(raw, { ...env, ...process.env }).value);
  const built = [...services].filter(([, s]) => s.build !== undefined);
  const appNames = new Set(built.map(([name]) => name));
  return built
    .filter(([name, s]) => isOneShotJob(name, s, services))
    .map(([name, service]) => ({
      name,
      dir: dirname(String((service.build as { dockerfile?: string }).dockerfile ?? '')),
      entry: entryOf(service.command),
      env: nativeEnv(toEnv(service.environment), native, database, appNames),
      after: Object.keys((service.depends_on as Record<string, unknown>) ?? {}).filter((d) =>
        appNames.has(d),
      ),
    }));
}

/** `node ... dist/worker.js` in the image is `src/worker.ts` from the source tree. */
function entryOf(command: unknown): string {
  const parts = Array.isArray(command)
    ? command.map(String)
    : typeof command === 'string'
      ? command.split(/\s+/)
      : [];
  const script = parts.find((p) => /^dist\/.+\.js$/.test(p));
  return script ? script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts') : 'src/main.ts';
}

function nativeEnv(
  environment: Record<string, string>,
  native: NativeEndpoints,
  database: string,
  appNames: Set<string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) {
    if (INFRA_URL_KEYS.includes(key)) continue;
    // http://payment-provider:8086 -> http://127.0.0.1:8086: app services publish their own port.
    env[key] = value.replace(/\/\/([a-z0-9-]+):(\d+)/g, (match, host: string, port: string) =>
      appNames.has(host) ? `//127.0.0.1:${port}` : match,
    );
  }
  if ('DATABASE_URL' in environment) {
    const url = new URL(native.postgres);
    url.pathname = `/${database}`;
    env.DATABASE_URL = url.toString();
  }
  if ('REDIS_URL' in environment) env.REDIS_URL = native.redis;
  if ('KAFKA_BROKERS' in environment) env.KAFKA_BROKERS = native.kafka;
  if ('ELASTICSEARCH_URL' in environment) env.ELASTICSEARCH_URL = native.elasticsearch;
  if ('OTEL_EXPORTER_OTLP_ENDPOINT' in environment && native.otlp)
    env.OTEL_EXPORTER_OTLP_ENDPOINT = native.otlp;
  return env;
}

/** Dependencies first; compose's depends_on among app services decides. */
function startOrder(plan: PlannedProcess[]): PlannedProcess[] {
  const byName = new Map(plan.map((p) => [p.name, p]));
  const ordered: PlannedProcess[] = [];
  const visiting = new Set<string>();
  const visit = (p: PlannedProcess) => {
    if (ordered.includes(p)) return;
    if (visiting.has(p.name)) throw new Error(`stack: depends_on cycle through ${p.name}`);
    visiting.add(p.name);
    for (const dep of p.dependsOn) visit(byName.get(dep)!);
    visiting.delete(p.name);
    ordered.push(p);
  };
  for (const p of plan) visit(p);
  return ordered;
}

/**
 * The same topology on other ports: every process's port moves by `offset`, and so does every
 * address in its environment that names another planned process (`127.0.0.1:8085`,
 * `localhost:8081`). The fault tests run beside a user's `pnpm stack up` this way.
 */
export function shiftPorts(plan: PlannedProcess[], offset: number): PlannedProcess[] {
  const appPorts = new Set(plan.map((p) => p.port));
  const shift = (value: string) =>
    value.replace(/\/\/(127\.0\.0\.1|localhost):(\d+)/g, (match, host: string, port: string) =>
      appPorts.has(Number(port)) ? `//${host}:${Number(port) + offset}` : match,
    );
  return plan.map((p) => {
    const env = Object.fromEntries(Object.entries(p.env).map(([k, v]) => [k, shift(v)]));
    if ('PORT' in env) env.PORT = String(p.port + offset);
    return { ...p, port: p.port + offset, env };
  });
}
