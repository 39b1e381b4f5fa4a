// `pnpm load:kafka-clients [N]`: the Node Kafka clients side by side for the click workload, on
// the real broker, before the aggregator is tuned (issue 17). Each client, in a process of its own
// (so its CPU is its own), produces N click events in batches of 2,000 (the ingest shipper's
// SHIP_BATCH_MAX) with acks from all replicas, then consumes them all from the start of the topic
// as a group member. It prints messages per second and the client process's CPU per message.
import { execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  Consumer,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { resolveEndpoints, uniqueId } from '@sdlab/testkit/infra';
import { benchKafka } from '../src/kafka-client.ts';
import { resultStamp } from '../src/report.ts';

const BATCH = 2_000;
const PARTITIONS = 6;
type Client = 'kafkajs' | 'platformatic';
const CLIENTS: Client[] = ['kafkajs', 'platformatic'];

interface PhaseResult {
  client: Client;
  phase: 'produce' | 'consume';
  messages: number;
  seconds: number;
  perS: number;
  cpuUsPerMessage: number;
}

function click(i: number, run: string) {
  const adId = `ld${run}-${i % 500}`;
  return {
    key: adId,
    value: JSON.stringify({
      impressionId: `kc${run}-${i.toString(36)}`,
      adId,
      campaignId: `lc${run}`,
      clickedAt: Date.now(),
      dedup: 'redis',
    }),
  };
}

async function measure(
  client: Client,
  phase: 'produce' | 'consume',
  messages: number,
  work: () => Promise<void>,
): Promise<PhaseResult> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    client,
    phase,
    messages,
    seconds,
    perS: messages / seconds,
    cpuUsPerMessage: (used.user + used.system) / messages,
  };
}

async function kafkajs(brokers: string[], topic: string, n: number, run: string): Promise<PhaseResult[]> {
  const kafka = benchKafka(`kc-${run}`, brokers);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const produce = await measure('kafkajs', 'produce', n, async () => {
    for (let i = 0; i < n; i += BATCH) {
      const messages = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => click(i + j, run));
      await producer.send({ topic, acks: -1, messages });
    }
  });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `kc-${run}-kafkajs`, maxBytesPerPartition: 1_048_576 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  const consume = await measure('kafkajs', 'consume', n, async () => {
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) JSON.parse(m.value!.toString('utf8'));
          seen += batch.messages.length;
          if (seen >= n) resolve();
        },
      });
    });
  });
  await consumer.disconnect();
  return [produce, consume];
}

async function platformatic(
  brokers: string[],
  topic: string,
  n: number,
  run: string,
): Promise<PhaseResult[]> {
  const producer = new Producer({
    clientId: `kc-${run}`,
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  const produce = await measure('platformatic', 'produce', n, async () => {
    for (let i = 0; i < n; i += BATCH) {
      const messages = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => ({
        topic,
        ...click(i + j, run),
      }));
      await producer.send({ messages });
    }
  });
  await producer.close();
  const consumer = new Consumer({
    groupId: `kc-${run}-platformatic`,
    clientId: `kc-${run}-c`,
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
    maxBytesPerPartition: 1_048_576,
  });
  let seen = 0;
  const consume = await measure('platformatic', 'consume', n, async () => {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST });
    await new Promise<void>((resolve) => {
      stream.on('data', (message) => {
        JSON.parse(message.value);
        seen++;
        if (seen === n) resolve();
      });
    });
    await stream.close();
  });
  await consumer.close(true);
  return [produce, consume];
}

/** One client in this process: its own topic, produce then consume; prints one JSON line. */
async function child(client: Client, n: number): Promise<void> {
  const { endpoints, stop } = await resolveEndpoints();
  const run = uniqueId().slice(0, 8);
  const topic = `load-kc-${run}`;
  const kafka = benchKafka(`kc-admin-${run}`, endpoints.kafka);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  try {
    const results =
      client === 'kafkajs'
        ? await kafkajs(endpoints.kafka, topic, n, run)
        : await platformatic(endpoints.kafka, topic, n, run);
    process.stdout.write(`${JSON.stringify(results)}\n`);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await stop?.();
  }
}

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  if (mode === '--child') return child(arg as Client, Number(process.argv[4]));
  const n = Number(mode ?? 200_000);
  const rows: PhaseResult[] = [];
  for (const client of CLIENTS) {
    process.stdout.write(`kafka-clients: ${client}, ${n.toLocaleString('en-US')} messages ...\n`);
    const output = await new Promise<string>((resolve, reject) => {
      const proc = spawn(
        process.execPath,
        ['--conditions=@sdlab/source', fileURLToPath(import.meta.url), '--child', client, String(n)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      proc.stdout.on('data', (chunk) => (out += chunk));
      proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${client} exited ${code}`))));
    });
    rows.push(...(JSON.parse(output.trim().split('\n').at(-1)!) as PhaseResult[]));
  }
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const date = new Date().toISOString();
  const text = [
    `# Node Kafka clients on the click workload, ${date}`,
    '',
    `${date}, commit ${commit}, ${n.toLocaleString('en-US')} click events of ~150 B, ${PARTITIONS} partitions, batches of ${BATCH}, acks=all, idempotent producer; consume from the start as a group member, JSON-parsing each value`,
    '',
    '| client | phase | messages/s | client CPU per message |',
    '|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.client} | ${r.phase} | ${Math.round(r.perS).toLocaleString('en-US')} | ${r.cpuUsPerMessage.toFixed(1)} µs |`,
    ),
    '',
    'No load generator: each client runs alone against the broker on the same machine. @confluentinc/kafka-javascript is not in the table: its install compiles librdkafka, whose configure downloads zlib, OpenSSL, zstd and curl sources from their sites, which this machine cannot reach.',
    '',
  ].join('\n');
  const file = fileURLToPath(new URL(`../results/kafka-clients-${resultStamp(date)}.md`, import.meta.url));
  await writeFile(file, text);
  process.stdout.write(`${text}\nresult: ${file}\n`);
}

await main();
process.exit(0);
