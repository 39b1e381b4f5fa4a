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

/** docker-compose.yml's services, interpolated with .env as compose reads them. */
function composeServices(repoRoot: string) {
  const raw = parseComposeYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'));
  const env = parseEnv(readFileSync(join(repoRoot, '.env'), 'utf8'));
  return servicesOf(interpolate(raw, { ...env, ...process.env }).value);
}

/**
 * `native` may lack servers that are not up (a stack of one service starts only what that
 * service needs); a process whose environment names a missing server gets no address for it.
 */
export function planFromCompose(
  repoRoot: string,
  native: Partial<NativeEndpoints>,
  database = 'sdlab',
): PlannedProcess[] {
  const services = composeServices(repoRoot);
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

export function jobsFromCompose(
  repoRoot: string,
  native: Partial<NativeEndpoints>,
  database = 'sdlab',
): PlannedJob[] {
  const services = composeServices(repoRoot);
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
  native: Partial<NativeEndpoints>,
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
  if ('DATABASE_URL' in environment && native.postgres) {
    const url = new URL(native.postgres);
    url.pathname = `/${database}`;
    env.DATABASE_URL = url.toString();
  }
  if ('REDIS_URL' in environment && native.redis) env.REDIS_URL = native.redis;
  if ('KAFKA_BROKERS' in environment && native.kafka) env.KAFKA_BROKERS = native.kafka;
  if ('ELASTICSEARCH_URL' in environment && native.elasticsearch)
    env.ELASTICSEARCH_URL = native.elasticsearch;
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

/**
 * Compose's depends_on graph, for starting part of the stack: every service in file order with
 * the services it waits for, and which of them this repo builds (the ones `pnpm stack up` names).
 */
export interface ComposeGraph {
  dependsOn: Map<string, string[]>;
  built: Set<string>;
}

export function graphFromCompose(repoRoot: string): ComposeGraph {
  const services = [...composeServices(repoRoot)];
  return {
    dependsOn: new Map(
      services.map(([name, s]) => [name, Object.keys((s.depends_on as Record<string, unknown>) ?? {})]),
    ),
    built: new Set(services.filter(([, s]) => s.build !== undefined).map(([name]) => name)),
  };
}

/** The servers infra/native runs, under their compose names, in infra.sh's order. */
export const NATIVE_SERVERS = ['postgres', 'redis', 'kafka', 'elasticsearch', 'jaeger', 'prometheus'];

/**
 * Up whatever else runs, because the tour reads traces and metrics. No compose service
 * depends_on them (a service without its collector only loses telemetry), so compose users name
 * them (infra/compose/README.md).
 */
export const OBSERVABILITY = ['jaeger', 'prometheus'];

export class UnknownServiceError extends Error {}

/**
 * What `docker compose up <names>` starts: the names and, transitively, what they depend_on, in
 * the file's order. Nothing that merely depends on them: naming a service does not bring its
 * worker.
 */
export function closureOf(graph: ComposeGraph, names: string[]): string[] {
  const unknown = names.filter((name) => !graph.built.has(name));
  if (unknown.length > 0) {
    const servers = unknown.filter((name) => NATIVE_SERVERS.includes(name));
    throw new UnknownServiceError(
      `stack: no service ${unknown.map((n) => `'${n}'`).join(', ')} in docker-compose.yml; ` +
        `the services are: ${[...graph.built].join(', ')}` +
        (servers.length > 0 ? `\n(servers start alone with: pnpm infra:up ${servers.join(' ')})` : ''),
    );
  }
  const chosen = new Set<string>();
  const visit = (name: string) => {
    if (chosen.has(name)) return;
    chosen.add(name);
    for (const dependency of graph.dependsOn.get(name) ?? []) visit(dependency);
  };
  for (const name of names) visit(name);
  return [...graph.dependsOn.keys()].filter((name) => chosen.has(name));
}

/** The native servers a set of compose services runs on: the ones among them, and observability. */
export function serversFor(services: string[]): string[] {
  return NATIVE_SERVERS.filter((s) => services.includes(s) || OBSERVABILITY.includes(s));
}

export interface Selection {
  /** Compose services to start (servers, processes and jobs), in the file's order. */
  services: string[];
  /** What to pass to `infra.sh up`. */
  servers: string[];
  /** Each named service's dependencies, to say why each was chosen. */
  needs: Map<string, string[]>;
  /**
   * Services left out that depend on a named one and need no further server: its worker or
   * seed, which compose starts only when named. Worth saying, since the service runs without them.
   */
  leftOut: string[];
}

/** Part of the stack for `pnpm stack up <names>`; no names is every service compose builds. */
export function selectionOf(graph: ComposeGraph, names: string[]): Selection {
  const services = closureOf(graph, names.length > 0 ? names : [...graph.built]);
  const servers = serversFor(services);
  const leftOut = [...graph.built].filter((other) => {
    if (services.includes(other)) return false;
    const needs = closureOf(graph, [other]);
    return names.some((name) => needs.includes(name)) && serversFor(needs).every((s) => servers.includes(s));
  });
  const needs = new Map(names.map((name) => [name, closureOf(graph, [name]).filter((n) => n !== name)]));
  return { services, servers, needs, leftOut };
}
