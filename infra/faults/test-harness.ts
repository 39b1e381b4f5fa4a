/**
 * Harness 2: a fault scenario as a vitest file. It starts only the processes the scenario
 * involves, from the same compose-derived plan as `pnpm stack`, on ports shifted by the file's
 * offset (so it runs beside a user's stack), with the failing server replaced by a private
 * instance (or, for a 'slow' scenario, reached through a latency proxy in front of the shared
 * one), a fresh database, and topics, consumer groups, key prefixes, index and spool of its own.
 * Then it runs the scenario and asserts that every promise it checked was kept.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {} from '@sdlab/testkit'; // types inject('sdlabEndpoints')
import {
  createTestDatabase,
  dropTestDatabase,
  type PrivateServer,
  startPrivatePostgres,
  startPrivateRedis,
  uniqueId,
} from '@sdlab/testkit/infra';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type NativeEndpoints, type PlannedProcess, planFromCompose, shiftPorts } from '../stack/plan.ts';
import { logTail, spawnPlanned, waitReady } from '../stack/processes.ts';
import { proxyServer } from './latency.ts';
import {
  type CheckResult,
  createFaultContext,
  type FaultScenario,
  type FaultServer,
  type FaultTarget,
  summary,
} from './scenario.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface FaultTestOptions {
  /** Added to every planned port; one per test file (redis 20000, postgres 21000, …). */
  portOffset: number;
  /** A complete run makes at least this many checks. */
  minChecks: number;
  /** For the test body (the scenario's run); default 180 s. */
  timeoutMs?: number;
  /**
   * The private stand-in for the scenario's server. Redis and Postgres have defaults from the
   * testkit; a scenario stopping another server supplies its own. `url` is what goes into the
   * processes' environment (a URL, or host:port for Kafka). Not used by a 'slow' scenario: the
   * shared server is never stopped, only reached through a proxy.
   */
  privateServer?: () => Promise<PrivateServer>;
}

interface Running {
  p: PlannedProcess;
  child?: ChildProcess;
  logFile: string;
}

/** Declares the scenario's vitest suite: setup, one test that runs it, teardown. */
export function faultTest(scenario: FaultScenario, options: FaultTestOptions): void {
  describe(`fault scenario ${scenario.name}`, () => {
    let harness: Harness | undefined;

    beforeAll(async () => {
      harness = await startHarness(scenario, options);
    }, 300_000);

    afterAll(async () => {
      await harness?.dispose();
    }, 120_000);

    it(
      scenario.title,
      async () => {
        // One block per run: vitest prefixes every console call with the test's name.
        const lines: string[] = [`${scenario.name}: ${scenario.title}`];
        const { ctx, results } = createFaultContext(harness!.target, (line) => lines.push(line));
        try {
          await scenario.run(ctx);
        } finally {
          lines.push(summary(results));
          console.log(lines.join('\n'));
        }
        expect(failures(results), harness!.logHint()).toEqual([]);
        expect(results.length).toBeGreaterThanOrEqual(options.minChecks);
      },
      options.timeoutMs ?? 180_000,
    );
  });
}

function failures(results: CheckResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `${r.phase} ${r.service}: ${r.promise} — ${r.error}`);
}

interface Harness {
  target: FaultTarget;
  logHint(): string;
  dispose(): Promise<void>;
}

async function startHarness(scenario: FaultScenario, options: FaultTestOptions): Promise<Harness> {
  const shared = inject('sdlabEndpoints');
  const id = uniqueId()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const logDir = mkdtempSync(join(tmpdir(), `sdlab-fault-${scenario.name}-`));
  const cleanups: (() => Promise<unknown>)[] = [];
  const running = new Map<string, Running>();

  const dispose = async () => {
    await Promise.all([...running.values()].map((r) => stopChild(r.child)));
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    if (!process.env.SDLAB_KEEP_FAULT_LOGS) rmSync(logDir, { recursive: true, force: true });
  };

  try {
    const native: NativeEndpoints = {
      postgres: shared.postgres,
      redis: shared.redis,
      kafka: shared.kafka.join(','),
      elasticsearch: shared.elasticsearch,
    };
    const slowed =
      scenario.server && scenario.kind === 'slow'
        ? await proxyServer(scenario.server, native[scenario.server])
        : undefined;
    if (slowed) {
      cleanups.push(() => slowed.proxy.close());
      native[scenario.server!] = slowed.endpoint;
    }
    const server =
      scenario.server && !slowed
        ? await (options.privateServer ?? defaultPrivateServer(scenario.server))()
        : undefined;
    if (server) {
      cleanups.push(() => server.dispose());
      native[scenario.server!] = server.url;
    }

    const database = `fault_${scenario.name.replace(/\W/g, '_')}_${id}`;
    await createTestDatabase(native.postgres, database);
    cleanups.push(async () => {
      // Dropping needs the server; a scenario that failed mid-outage may have left it stopped.
      if (scenario.server === 'postgres') await server?.start().catch(() => undefined);
      await dropTestDatabase(native.postgres, database);
    });

    const plan = selectProcesses(
      shiftPorts(planFromCompose(ROOT, native, database), options.portOffset),
      scenario.services,
    );
    const isolation = isolate(id, logDir);
    cleanups.push(() => deleteTopics(native.kafka, isolation.topics));
    cleanups.push(() => deleteRedisKeys(native.redis, `fault-${id}:`));
    cleanups.push(() => deleteIndex(native.elasticsearch, isolation.index));

    // Each process starts once the processes it depends on are ready (compose's depends_on),
    // the rest in parallel.
    const ready = new Map<string, Promise<void>>();
    for (const p of plan) {
      const r: Running = {
        p: { ...p, env: { ...p.env, ...isolation.env(p) } },
        logFile: join(logDir, `${p.name}.log`),
      };
      running.set(p.name, r);
      ready.set(
        p.name,
        Promise.all(p.dependsOn.map((d) => ready.get(d))).then(() => startProcess(r)),
      );
    }
    const failed = (await Promise.allSettled(ready.values())).find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;

    const get = (name: string) => {
      const r = running.get(name);
      if (!r)
        throw new Error(`${scenario.name}: '${name}' is not one of its processes (${[...running.keys()]})`);
      return r;
    };
    const target: FaultTarget = {
      url: (name) => `http://127.0.0.1:${get(name).p.port}`,
      env: (name) => get(name).p.env,
      fault: {
        stop: async () => {
          if (!server) throw new Error(`${scenario.name} stops no server`);
          await server.kill();
        },
        start: async () => {
          if (!server) throw new Error(`${scenario.name} stops no server`);
          await server.start();
        },
        slow: async (ms) => {
          if (!slowed) throw new Error(`${scenario.name} slows no server`);
          slowed.proxy.setDelay(ms);
        },
      },
      kill: async (name) => {
        const r = get(name);
        await stopChild(r.child);
        r.child = undefined;
      },
      restart: async (name) => {
        const r = get(name);
        if (r.child && r.child.exitCode === null && r.child.signalCode === null)
          throw new Error(`${name} is still running`);
        await startProcess(r);
      },
    };
    return {
      target,
      logHint: () =>
        `process logs: ${logDir} (kept when SDLAB_KEEP_FAULT_LOGS=1)\n${[...running.values()]
          .map((r) => `--- ${r.p.name}\n${shorten(logTail(r.logFile, 6))}`)
          .join('\n')}`,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Log lines cut to a readable length (a pg error serialises its whole client). */
function shorten(text: string): string {
  return text
    .split('\n')
    .map((line) => (line.length > 400 ? `${line.slice(0, 400)} …` : line))
    .join('\n');
}

function defaultPrivateServer(server: FaultServer): () => Promise<PrivateServer> {
  if (server === 'redis') return startPrivateRedis;
  if (server === 'postgres') return startPrivatePostgres;
  return () => {
    throw new Error(`no private ${server} in the testkit: pass privateServer to faultTest`);
  };
}

/** The scenario's processes and, transitively, the processes they depend on, in start order. */
function selectProcesses(plan: PlannedProcess[], services: string[]): PlannedProcess[] {
  const byName = new Map(plan.map((p) => [p.name, p]));
  const wanted = new Set<string>();
  const add = (name: string) => {
    const p = byName.get(name);
    if (!p) throw new Error(`no compose service '${name}' (known: ${[...byName.keys()].join(', ')})`);
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const dep of p.dependsOn) add(dep);
  };
  for (const s of services) add(s);
  return plan.filter((p) => wanted.has(p.name));
}

/**
 * What a test copy must not share with the user's stack or with an earlier run on the same
 * servers: Kafka topics and consumer groups, Redis keys, the search index, the click spool.
 * Every instance of one service folder gets the same values (two chat gateways must meet).
 */
function isolate(id: string, logDir: string) {
  const topics = [`shortener.clicks.f${id}`, `adclick.clicks.f${id}`, `adclick.clicks.dead-letter.f${id}`];
  const index = `booking-events-f${id}`;
  const perService: Record<string, Record<string, string>> = {
    'url-shortener': { CLICKS_TOPIC: topics[0]!, STATS_GROUP_ID: `shortener-stats-f${id}` },
    'ad-click-aggregator': {
      CLICKS_TOPIC: topics[1]!,
      DEAD_LETTER_TOPIC: topics[2]!,
      CONSUMER_GROUP: `adclick-aggregator-f${id}`,
    },
    'ticket-booking': { SEARCH_INDEX: index },
  };
  return {
    topics,
    index,
    env(p: PlannedProcess): Record<string, string> {
      const service = p.dir.split('/').pop()!;
      const prefix = `fault-${id}:${service}:`;
      const env: Record<string, string> = {
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        REDIS_KEY_PREFIX: prefix,
        ...perService[service],
      };
      if (p.name === 'ad-click-aggregator') {
        env.SPOOL_DIR = join(logDir, 'spool');
        mkdirSync(env.SPOOL_DIR, { recursive: true });
      }
      return env;
    },
  };
}

async function startProcess(r: Running): Promise<void> {
  const child = spawnPlanned(ROOT, r.p, { logFile: r.logFile, detached: false });
  r.child = child;
  await waitReady(r.p, {
    alive: () => child.exitCode === null && child.signalCode === null,
    logFile: r.logFile,
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function deleteTopics(brokers: string, topics: string[]): Promise<void> {
  const admin = new Kafka({
    clientId: 'fault-harness',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((t) => existing.has(t));
    if (ours.length) await admin.deleteTopics({ topics: ours });
  } finally {
    await admin.disconnect();
  }
}

async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

async function deleteIndex(url: string, index: string): Promise<void> {
  await fetch(`${url}/${index}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
}
