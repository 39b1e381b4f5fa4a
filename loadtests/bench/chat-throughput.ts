// `pnpm load:chat-throughput [--pairs 100] [--in-flight 4] [--seconds 20]`: how many messages two
// chat gateways deliver when the client is not the limit. A closed loop in Node (k6 spends about
// a millisecond of CPU per WebSocket message, so it cannot offer thousands per second on these
// cores): users in pairs across the two gateways (half the senders on each), each sender keeping N messages in flight (the
// next goes out when an ack comes back). Reports delivered messages per second, delivery and ack
// latency, the gateways' and Postgres's CPU per delivered message, and checks on the data that
// every acked message is stored (an ack is only sent after the INSERT commits).
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase, dropTestDatabase, resolveEndpoints, uniqueId } from '@sdlab/testkit/infra';
import pg from 'pg';
import { machineCpuMs, processCpuMs, serverCpuMs } from '../src/cpu-usage.ts';
import { percentile } from '../src/efficiency.ts';
import { commit } from '../src/machine.ts';
import { assertPortFree, type Running, startNode, waitReady } from '../src/processes.ts';
import { resultStamp } from '../src/report.ts';
import { REPO_ROOT } from '../src/services.ts';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100' },
    'in-flight': { type: 'string', default: '4' },
    seconds: { type: 'string', default: '20' },
    // A directory: each gateway writes a V8 CPU profile there when it stops (node --cpu-prof).
    'cpu-prof': { type: 'string' },
    // lean: warn logs, no tracing (as `pnpm load` runs a service); stack: info logs and OTLP export
    // to the native Jaeger, as `pnpm stack up` and compose run it.
    config: { type: 'string', default: 'lean' },
  },
});
const PAIRS = Number(values.pairs);
const IN_FLIGHT = Number(values['in-flight']);
const SECONDS = Number(values.seconds);
const CPU_PROF = values['cpu-prof'];
const CONFIG = values.config;
if (CONFIG !== 'lean' && CONFIG !== 'stack') throw new Error(`--config is lean or stack, got "${CONFIG}"`);
const PORTS = [38083, 38093];

type Frame = { type: string } & Record<string, unknown>;

async function json(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), { once: true });
  });
}

function stackOtlp(otlp: string | undefined): string {
  if (!otlp)
    throw new Error(
      '--config stack needs an OTLP endpoint (the native Jaeger: bash infra/native/infra.sh up jaeger)',
    );
  return otlp;
}

async function main(): Promise<void> {
  const { endpoints, stop } = await resolveEndpoints();
  const run = uniqueId().slice(0, 8);
  const database = `load_chat_${run}`;
  const databaseUrl = await createTestDatabase(endpoints.postgres, database);
  const gateways: Running[] = [];
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    for (const port of PORTS) await assertPortFree(port);
    for (const [i, port] of PORTS.entries()) {
      const gateway = await startNode(
        `chat-bench-${i}`,
        join(REPO_ROOT, 'services/chat-gateway'),
        'src/main.ts',
        {
          NODE_ENV: 'production',
          SDLAB_DEV_MODE: 'true',
          ...(CONFIG === 'stack'
            ? { LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: stackOtlp(endpoints.otlp) }
            : { LOG_LEVEL: 'warn' }),
          PORT: String(port),
          INSTANCE_ID: `bench-${i + 1}`,
          DATABASE_URL: databaseUrl,
          REDIS_URL: endpoints.redis,
          REDIS_KEY_PREFIX: `chat-bench-${run}:`,
          // A closed loop sends as fast as acks come back: the per-connection limit would pace it.
          SEND_RATE_CAPACITY: '100000',
          SEND_RATE_REFILL_PER_S: '100000',
        },
        join(REPO_ROOT, 'loadtests/results/logs'),
        {
          nodeArgs: [
            // As the runner starts a service: the kit's instrumentation entry (a no-op without an endpoint).
            '--import',
            '@sdlab/service-kit/instrument',
            ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : []),
          ],
        },
      );
      gateways.push(gateway);
      await waitReady(`http://127.0.0.1:${port}/readyz`, gateway);
    }
    const base = `http://127.0.0.1:${PORTS[0]}`;
    const users = await Promise.all(
      Array.from({ length: PAIRS * 2 }, async (_, i) => {
        const userId = `bench-${run}-${i}`;
        // The gateway's development token endpoint (on in development mode): a token per device.
        const minted = await json(`${base}/tokens`, { userId, deviceId: 'bench' });
        return { userId, token: String(minted.token) };
      }),
    );
    const conversations: string[] = [];
    for (let p = 0; p < PAIRS; p++) {
      const created = await json(
        `${base}/conversations/direct`,
        { peerId: users[2 * p + 1]!.userId },
        users[2 * p]!.token,
      );
      conversations.push(String(created.id));
    }
    const delivery: number[] = [];
    const acks: number[] = [];
    let delivered = 0;
    let acked = 0;
    let errors = 0;
    let measuring = false;
    let sending = true;
    // Pair p: its sender on gateway p % 2, its receiver on the other, so both gateways take sends
    // and deliveries alike and every message crosses instances.
    const sockets = await Promise.all(
      users.map((u, i) =>
        open(
          `ws://127.0.0.1:${PORTS[(i + Math.floor(i / 2)) % 2]}/ws?access_token=${encodeURIComponent(u.token)}`,
        ),
      ),
    );
    // Receivers: every other socket; delivery latency from the sender's clientTs (one clock).
    for (let p = 0; p < PAIRS; p++) {
      sockets[2 * p + 1]!.addEventListener('message', (event) => {
        const frame = JSON.parse(String(event.data)) as Frame;
        if (frame.type === 'message' && measuring) {
          delivered++;
          delivery.push(Date.now() - Number(frame.clientTs));
        }
      });
    }
    // Senders: N in flight each; the next message leaves when an ack arrives.
    for (let p = 0; p < PAIRS; p++) {
      const ws = sockets[2 * p]!;
      const sentAt = new Map<string, number>();
      let counter = 0;
      const sendOne = () => {
        if (!sending) return;
        const clientMsgId = `${p}-${++counter}`;
        const now = Date.now();
        sentAt.set(clientMsgId, now);
        ws.send(
          JSON.stringify({
            v: 1,
            type: 'send',
            conversationId: conversations[p],
            clientMsgId,
            text: `bench ${counter}`,
            clientTs: now,
          }),
        );
      };
      ws.addEventListener('message', (event) => {
        const frame = JSON.parse(String(event.data)) as Frame;
        if (frame.type === 'ack') {
          const at = sentAt.get(String(frame.clientMsgId));
          sentAt.delete(String(frame.clientMsgId));
          if (measuring && at !== undefined) {
            acked++;
            acks.push(Date.now() - at);
          }
          sendOne();
        } else if (frame.type === 'error') {
          errors++;
          sendOne();
        }
      });
      for (let i = 0; i < IN_FLIGHT; i++) sendOne();
    }
    // A few seconds of warm-up (JIT, pools), then the measured window.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const pids = gateways.map((g) => g.child.pid!);
    // Postgres is shared with other work on this machine: the backends serving this run's database
    // (the gateways' pools) are its own share, apart from every postgres process's sum.
    const backendPids = async () =>
      (
        await pool.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
        )
      ).rows.map((r) => r.pid);
    const backendsBefore = new Map((await backendPids()).map((pid) => [pid, processCpuMs(pid) ?? 0]));
    const before = {
      gw: pids.map((pid) => processCpuMs(pid) ?? 0),
      servers: serverCpuMs(),
      machine: machineCpuMs(),
      client: process.cpuUsage(),
    };
    const started = performance.now();
    measuring = true;
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    measuring = false;
    const wallMs = performance.now() - started;
    const backendsMs = (await backendPids()).reduce(
      (sum, pid) => sum + (processCpuMs(pid) ?? 0) - (backendsBefore.get(pid) ?? 0),
      0,
    );
    const after = {
      gw: pids.map((pid) => processCpuMs(pid) ?? 0),
      servers: serverCpuMs(),
      machine: machineCpuMs(),
      client: process.cpuUsage(before.client),
    };
    sending = false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const ws of sockets) ws.close();
    // Every acked message is in Postgres: acks only follow the commit.
    const { rows } = await pool.query<{ n: string }>('SELECT count(*)::bigint AS n FROM chat.messages');
    // Messages per group commit over the whole run (both gateways' histograms): what a commit's
    // fixed cost is spread over.
    let commitMessages = 0;
    let commitCount = 0;
    for (const port of PORTS) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      commitMessages += value('sdlab_chat_commit_batch_messages_sum');
      commitCount += value('sdlab_chat_commit_batch_messages_count');
    }
    const stored = Number(rows[0]!.n);
    const gatewayMs = after.gw.reduce((s, v, i) => s + v - before.gw[i]!, 0);
    const postgresMs = after.servers.postgres! - before.servers.postgres!;
    const redisMs = after.servers.redis! - before.servers.redis!;
    // The generator itself: this process's own CPU (user + system), reported apart from the servers.
    const clientMs = (after.client.user + after.client.system) / 1000;
    const perMessageUs = (ms: number) => (ms * 1000) / Math.max(1, delivered);
    const serverUs = perMessageUs(gatewayMs + postgresMs + redisMs);
    const total = after.machine.total - before.machine.total;
    delivery.sort((a, b) => a - b);
    acks.sort((a, b) => a - b);
    const perS = (delivered * 1000) / wallMs;
    const cores = {
      gateways: gatewayMs / wallMs,
      postgres: postgresMs / wallMs,
      redis: redisMs / wallMs,
      client: clientMs / wallMs,
      machine: total > 0 ? (after.machine.busy - before.machine.busy) / total : 0,
    };
    const date = new Date().toISOString();
    const text = [
      `# chat-gateway — closed-loop delivery, ${date}`,
      '',
      `- commit \`${commit()}\`; command \`pnpm load:chat-throughput --pairs ${PAIRS} --in-flight ${IN_FLIGHT} --seconds ${SECONDS} --config ${CONFIG}\``,
      `- two gateways (${CONFIG === 'stack' ? "the stack's configuration: LOG_LEVEL=info, traces exported to Jaeger over OTLP with the kit's default sampler" : 'LOG_LEVEL=warn, no tracing'}, per-connection send limit raised), ${PAIRS} pairs across them, ${IN_FLIGHT} messages in flight per sender, ${SECONDS} s measured after 3 s of warm-up; the client is a Node closed loop on the same machine (not k6)`,
      `- **delivered ${Math.round(perS).toLocaleString('en-US')} messages/s**; delivery p50 ${percentile(delivery, 0.5)} ms, p95 ${percentile(delivery, 0.95)} ms, p99 ${percentile(delivery, 0.99)} ms; ack p95 ${percentile(acks, 0.95)} ms; ${errors} error frames`,
      `- stored before acked: ${stored.toLocaleString('en-US')} messages in Postgres ≥ ${acked.toLocaleString('en-US')} acked in the window: ${stored >= acked ? 'yes' : '**NO**'}; ${(commitMessages / Math.max(1, commitCount)).toFixed(1)} messages per group commit on average`,
      `- cores: gateways ${cores.gateways.toFixed(2)}, Postgres ${cores.postgres.toFixed(2)}, Redis ${cores.redis.toFixed(2)}, the client (generator) ${cores.client.toFixed(2)}; machine ${(cores.machine * 100).toFixed(0)} % busy (anything else on it takes the rest)`,
      `- CPU per delivered message: gateways ${perMessageUs(gatewayMs).toFixed(0)} µs (both), Postgres ${perMessageUs(postgresMs).toFixed(0)} µs (of which this database's backends ${perMessageUs(backendsMs).toFixed(0)} µs; the rest is other work on the shared server and its background writers), Redis ${perMessageUs(redisMs).toFixed(0)} µs: **server side ${serverUs.toFixed(0)} µs**; the client ${perMessageUs(clientMs).toFixed(0)} µs`,
      `- 10,000 messages/s would take ${(serverUs / 100).toFixed(2)} cores of server CPU at this cost, and ${(perMessageUs(clientMs) / 100).toFixed(2)} of client; this machine has ${availableParallelism()}`,
      '- no k6 runs here; the closed-loop client shares the machine and is part of its busy share',
      '',
    ].join('\n');
    const file = join(REPO_ROOT, 'loadtests/results', `chat-gateway-closed-loop-${resultStamp(date)}.md`);
    await writeFile(file, text);
    process.stdout.write(`${text}\nresult: ${file}\n`);
  } finally {
    await pool.end();
    for (const g of gateways.reverse()) await g.stop();
    await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
    await stop?.();
  }
}

await main();
process.exit(0);
