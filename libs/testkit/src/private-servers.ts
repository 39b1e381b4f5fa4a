import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { freePort } from './free-port.ts';
import { waitFor } from './wait-for.ts';

// Fault tests stop and restart a server. Doing that to the shared one would break every suite
// running beside them, so each gets a private instance of the same real binary.

const exec = promisify(execFile);

export { freePort };

const SERVER_START = { timeoutMs: 30_000, intervalMs: 100 };

/** A private server's dispose: stop it for good, then remove its directory. */
function disposer(kill: () => Promise<void>, dir: string): () => Promise<void> {
  return async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
}

export interface PrivateServer {
  url: string;
  /** Stops the server abruptly (SIGKILL: what a crash looks like to clients). */
  kill(): Promise<void>;
  /** Starts it again on the same port; data does not survive for Redis, does for Postgres. */
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  dispose(): Promise<void>;
}

/** A private `redis-server` on a free loopback port, no persistence. */
export async function startPrivateRedis(): Promise<PrivateServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(
      `redis on ${port}`,
      async () => {
        const probe = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => undefined); // refused while starting: the loop retries
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } finally {
          probe.disconnect();
        }
      },
      SERVER_START,
    );
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url, start, kill, dispose: kill };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A private PostgreSQL cluster (initdb as the `postgres` user, trust auth, loopback only). */
export async function startPrivatePostgres(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sdlab-pg-'));
  const asPostgres = (args: string[]) =>
    process.getuid?.() === 0
      ? exec('runuser', ['-u', 'postgres', '--', ...args])
      : exec(args[0]!, args.slice(1));
  if (process.getuid?.() === 0) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    chownSync(dir, uid, uid);
  }
  await asPostgres([
    `${PG_BIN}/initdb`,
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = async () => {
    await asPostgres([
      `${PG_BIN}/pg_ctl`,
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      options,
      'start',
    ]);
    await waitFor(
      `postgres on ${port}`,
      async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.end();
        return true;
      },
      SERVER_START,
    );
  };
  const kill = async () => {
    // Immediate mode: no checkpoint, connections cut, as in a crash; restart recovers from WAL.
    await asPostgres([`${PG_BIN}/pg_ctl`, '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(
      () => undefined,
    );
  };
  await start();
  return { url, start, kill, dispose: disposer(kill, dir) };
}

// ---------------------------------------------------------------------------------------------
// Kafka and Elasticsearch: the installs infra/native made (infra/native/lib/kafka.sh and
// elasticsearch.sh), started on free ports with their own data directories.
// ---------------------------------------------------------------------------------------------

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NATIVE = join(REPO_ROOT, 'infra/native');

/** The version infra/native installs: its env override, else the default in lib/<server>.sh. */
function nativeVersion(server: 'kafka' | 'elasticsearch', variable: string): string {
  const fromEnv = process.env[variable];
  if (fromEnv) return fromEnv;
  const script = readFileSync(join(NATIVE, 'lib', `${server}.sh`), 'utf8');
  const match = new RegExp(`${variable}=\\$\\{${variable}:-([^}]+)\\}`).exec(script);
  if (!match) throw new Error(`private ${server}: no default ${variable} in infra/native/lib/${server}.sh`);
  return match[1]!;
}

function installDir(server: 'kafka' | 'elasticsearch', variable: string): string {
  const cache = process.env.SDLAB_CACHE ?? join(homedir(), '.cache', 'sdlab');
  const dir = join(cache, 'infra', `${server}-${nativeVersion(server, variable)}`);
  if (!existsSync(join(dir, '.complete'))) {
    throw new Error(
      `private ${server}: ${dir} is not installed (run: bash infra/native/infra.sh install ${server})`,
    );
  }
  return dir;
}

/** Replaces @NAME@ placeholders, as infra/native's render_template does. */
function render(template: string, values: Record<string, string | number>): string {
  return readFileSync(template, 'utf8').replace(/@([A-Z_]+)@/g, (match, name: string) =>
    name in values ? String(values[name]) : match,
  );
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A JVM server started in its own process group, output to a log file. Its kill() SIGKILLs the
 * whole group: Elasticsearch's launcher forks the node JVM, and a crash takes both.
 */
class JvmProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<unknown> | undefined;
  readonly #name: string;
  readonly #log: string;
  readonly #spawn: (out: number) => ChildProcess;

  constructor(name: string, log: string, spawnIt: (out: number) => ChildProcess) {
    this.#name = name;
    this.#log = log;
    this.#spawn = spawnIt;
  }

  async start(ready: () => Promise<unknown>, timeoutMs: number): Promise<void> {
    const out = openSync(this.#log, 'a');
    try {
      this.#child = this.#spawn(out);
    } finally {
      closeSync(out);
    }
    const child = this.#child;
    this.#exited = once(child, 'exit');
    let exited = false;
    void this.#exited.then(() => {
      exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`${this.#name} exited while starting; log:\n${tail(this.#log)}`);
      try {
        await ready();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(
            `${this.#name} not ready after ${timeoutMs} ms (${String(error)}); log:\n${tail(this.#log)}`,
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await this.#exited;
  }
}

export interface PrivateKafka extends PrivateServer {
  /** `127.0.0.1:<port>`, as a kafkajs `brokers` list. */
  brokers: string[];
}

/**
 * A private single-node KRaft broker (broker + controller) from the Kafka jars infra/native
 * installed, with the same server.properties template as the shared one: topics are never
 * auto-created. kill() is a SIGKILL; start() restarts it on the same ports with its log kept,
 * so topics, messages and committed offsets survive (after log recovery).
 */
export async function startPrivateKafka(options: { heap?: string } = {}): Promise<PrivateKafka> {
  const home = installDir('kafka', 'SDLAB_KAFKA_VERSION');
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sdlab-kafka-'));
  const config = join(dir, 'server.properties');
  writeFileSync(
    config,
    render(join(NATIVE, 'kafka/server.properties.tmpl'), {
      SDLAB_KAFKA_PORT: port,
      SDLAB_KAFKA_CONTROLLER_PORT: controllerPort,
      KAFKA_DATA_DIR: join(dir, 'kraft-logs'),
    }),
  );
  const log4j = `-Dlog4j2.configurationFile=${join(NATIVE, 'kafka/log4j2.properties')}`;
  const classpath = `${home}/libs/*`;
  // A Kafka Uuid (16 bytes, base64url): generated here rather than by a StorageTool JVM of its own.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  await exec('java', [
    log4j,
    '-cp',
    classpath,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    config,
  ]);

  const brokers = [`127.0.0.1:${port}`];
  const logFile = join(dir, 'server.log');
  const jvm = new JvmProcess(`private kafka on ${port}`, logFile, (out) =>
    spawn(
      'java',
      [
        ...(options.heap ?? '-Xms256m -Xmx512m').split(' '),
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        log4j,
        '-cp',
        classpath,
        'kafka.Kafka',
        config,
      ],
      { cwd: dir, detached: true, stdio: ['ignore', out, out] },
    ),
  );
  const admin = new Kafka({
    clientId: 'testkit-private-kafka',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  }).admin();
  const ready = async () => {
    // The port can be bound before requests are served; the log line and a metadata round trip cannot.
    if (!readFileSync(logFile, 'utf8').includes('Kafka Server started')) throw new Error('not started yet');
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length !== 1) throw new Error(`${cluster.brokers.length} brokers`);
    } finally {
      await admin.disconnect();
    }
  };
  const start = async () => {
    // The previous run's "started" line must not count for this one.
    writeFileSync(logFile, '');
    await jvm.start(ready, 120_000);
  };
  await start();
  return {
    url: brokers[0]!,
    brokers,
    start,
    kill: () => jvm.kill(),
    dispose: disposer(() => jvm.kill(), dir),
  };
}

const ES_USER = process.env.SDLAB_ES_USER ?? 'sdlab-es';

/** Every ancestor of `path` must be searchable by `user` (the run dir lives below /root, mode 0700). */
async function ensureTraversable(user: string, path: string): Promise<void> {
  for (let dir = dirname(path); dir !== '/'; dir = dirname(dir)) {
    const ok = await exec('runuser', ['-u', user, '--', 'test', '-x', dir]).then(
      () => true,
      () => false,
    );
    if (!ok) await exec('setfacl', ['-m', `u:${user}:x`, dir]);
  }
}

/**
 * A private Elasticsearch node from the distribution infra/native installed (with its sdlab-compat
 * plugin), configured from the same elasticsearch.yml template as the shared node (single node,
 * security off) on free HTTP and transport ports, with its own data, logs and heap (512 MiB).
 * It runs as the `sdlab-es` user when started as root (Elasticsearch refuses root). kill() is a
 * SIGKILL of the launcher and the node; start() restarts it with its data kept.
 */
export async function startPrivateElasticsearch(options: { heap?: string } = {}): Promise<PrivateServer> {
  const home = installDir('elasticsearch', 'SDLAB_ES_VERSION');
  const [port, transportPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sdlab-es-'));
  const conf = join(dir, 'config');
  for (const sub of ['data', 'logs', 'tmp']) mkdirSync(join(dir, sub));
  // A private copy of config/: Elasticsearch writes its keystore there.
  cpSync(join(home, 'config'), conf, { recursive: true });
  let yml = render(join(NATIVE, 'elasticsearch/elasticsearch.yml.tmpl'), {
    SDLAB_ES_PORT: port,
    SDLAB_ES_TRANSPORT_PORT: transportPort,
    ES_DATA_DIR: join(dir, 'data'),
    ES_LOGS_DIR: join(dir, 'logs'),
  });
  // As in elasticsearch.sh: with the module present and the setting absent, security is on (TLS, 401s).
  if (existsSync(join(home, 'modules/x-pack-security'))) yml += '\nxpack.security.enabled: false\n';
  writeFileSync(join(conf, 'elasticsearch.yml'), yml);

  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', ES_USER]).catch(() => {
      throw new Error(
        `private elasticsearch: user ${ES_USER} missing (run: bash infra/native/infra.sh install elasticsearch)`,
      );
    });
    const uid = Number(stdout.trim());
    const gid = Number((await exec('id', ['-g', ES_USER])).stdout.trim());
    await exec('chown', ['-R', `${uid}:${gid}`, dir]);
    await ensureTraversable(ES_USER, join(dir, 'x'));
    await ensureTraversable(ES_USER, join(home, 'x'));
  }
  const javaHome =
    process.env.SDLAB_ES_JAVA_HOME ??
    dirname(dirname(realpathSync((await exec('which', ['java'])).stdout.trim())));
  const env = [
    'HOME=/nonexistent',
    `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
    `ES_JAVA_HOME=${javaHome}`,
    `ES_PATH_CONF=${conf}`,
    `ES_TMPDIR=${join(dir, 'tmp')}`,
    `ES_JAVA_OPTS=${options.heap ?? '-Xms512m -Xmx512m'}`,
  ];
  const command = [join(home, 'bin/elasticsearch'), '-p', join(dir, 'es-server.pid')];
  const url = `http://127.0.0.1:${port}`;
  const jvm = new JvmProcess(`private elasticsearch on ${port}`, join(dir, 'server.log'), (out) =>
    spawn(
      asRoot ? 'setpriv' : 'env',
      asRoot
        ? [`--reuid=${ES_USER}`, `--regid=${ES_USER}`, '--init-groups', '--', 'env', '-i', ...env, ...command]
        : ['-i', ...env, ...command],
      { cwd: join(dir, 'logs'), detached: true, stdio: ['ignore', out, out] },
    ),
  );
  const ready = async () => {
    const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=2s`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { timed_out?: boolean; status?: string };
    if (!res.ok || body.timed_out !== false || body.status === 'red') throw new Error(JSON.stringify(body));
  };
  // A node that has just turned yellow can still take tens of seconds over its first index
  // creation on a busy 2-core machine (a service's start-up timed out on it). Creating and deleting
  // one here makes "started" mean "takes an index".
  const warm = async () => {
    const warmup = `${url}/sdlab-private-warmup`;
    const created = await fetch(warmup, { method: 'PUT', signal: AbortSignal.timeout(120_000) });
    if (!created.ok) throw new Error(`warm-up index: ${created.status} ${await created.text()}`);
    await fetch(warmup, { method: 'DELETE', signal: AbortSignal.timeout(120_000) });
  };
  const kill = async () => {
    await jvm.kill();
    // The node JVM is in the launcher's process group; make sure it is gone before the port is reused.
    const pidFile = join(dir, 'es-server.pid');
    const nodePid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
    while (alive(nodePid)) await new Promise((resolve) => setTimeout(resolve, 50));
    rmSync(pidFile, { force: true });
  };
  const start = async () => {
    await jvm.start(ready, 180_000);
    const started = Date.now();
    await warm();
    if (Date.now() - started > 5000)
      process.stderr.write(`private elasticsearch: first index took ${Date.now() - started} ms\n`);
  };
  await start();
  return { url, start, kill, dispose: disposer(kill, dir) };
}

export interface LatencyProxy {
  /** `http://127.0.0.1:<port>` (or `127.0.0.1:<port>` for a non-HTTP target). */
  url: string;
  /** Every chunk from the server reaches the client this much later (0: none). */
  setDelay(ms: number): void;
  /** Resets every open connection and every new one, as a network cut looks to a client. */
  cut(): void;
  /** Ends a cut: new connections go through again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real server, for faults of the network rather than of the server:
 * added latency ("Elasticsearch is slow") and a cut link. The server itself stays untouched.
 */
export async function startLatencyProxy(target: string): Promise<LatencyProxy> {
  const parsed = new URL(target.includes('://') ? target : `tcp://${target}`);
  const upstream = { host: parsed.hostname, port: Number(parsed.port) };
  let delayMs = 0;
  let isCut = false;
  const open = new Set<Socket>();

  const server = createServer((client) => {
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    const server = createConnection(upstream);
    open.add(client);
    open.add(server);
    const closeBoth = () => {
      open.delete(client);
      open.delete(server);
      client.destroy();
      server.destroy();
    };
    client.on('error', closeBoth).on('close', closeBoth);
    client.on('data', (chunk) => server.write(chunk));
    // One chain per connection keeps chunks in order while the delay changes.
    let chain = Promise.resolve();
    server.on('data', (chunk) => {
      const due = Date.now() + delayMs;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!client.destroyed) client.write(chunk);
      });
    });
    // The server closing reaches the client after the data it sent before, not ahead of it (a
    // server closes after answering a `Connection: close` request, e.g. undici's HEAD requests).
    const serverGone = () => {
      void chain.then(() => client.end());
    };
    server.on('end', serverGone).on('close', serverGone).on('error', serverGone);
    client.on('end', () => server.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  const scheme = target.includes('://') ? `${parsed.protocol}//` : '';
  return {
    url: `${scheme}127.0.0.1:${port}`,
    setDelay: (ms) => {
      delayMs = ms;
    },
    cut: () => {
      isCut = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore: () => {
      isCut = false;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
