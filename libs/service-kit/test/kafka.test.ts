import { createRequire } from 'node:module';
import { freePort, test, uniqueId } from '@sdlab/testkit';
import { KafkaJSNonRetriableError, type KafkaJSProtocolError } from 'kafkajs';
import { describe, expect } from 'vitest';
import { createKafkaClient, ensureTopics, isTopicNotReady, type KafkaLog } from '../src/kafka.ts';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

/** A logger that keeps what it was given, so a test can read which level each kafkajs line took. */
function recordingLog(): KafkaLog & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']) =>
    (obj: unknown, msg?: unknown): void => {
      lines.push({ level, msg: String(msg ?? ''), obj: (obj ?? {}) as Record<string, unknown> });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as KafkaLog & {
    lines: Line[];
  };
}

describe('createKafkaClient (real Kafka)', () => {
  test('takes the comma-separated broker list and produces through it', async ({ kafka }) => {
    const topic = await kafka.createTopic('factory');
    const log = recordingLog();
    const client = createKafkaClient({
      clientId: 'kit-kafka',
      brokers: ` ${kafka.brokers.join(' , ')} ,`,
      logger: log,
    });
    const producer = client.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const [sent] = await producer.send({ topic, messages: [{ key: 'k', value: 'v' }] });
      expect(sent?.errorCode).toBe(0);
    } finally {
      await producer.disconnect();
    }
    expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  test("routes kafkajs' own log lines to the logger; an unreachable broker is a warning, not an error", async () => {
    const log = recordingLog();
    const port = await freePort();
    const client = createKafkaClient({
      clientId: 'kit-kafka-down',
      brokers: [`127.0.0.1:${port}`],
      logger: log,
      connectionTimeout: 200,
      retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
    });
    const admin = client.admin();
    await expect(admin.connect()).rejects.toThrow();
    const connectionLines = log.lines.filter((l) => /connect|ECONNREFUSED/i.test(l.msg));
    expect(connectionLines.length).toBeGreaterThan(0);
    expect(connectionLines.every((l) => l.level === 'warn')).toBe(true);
  });
});

describe("kafkajs' request queue timer (real Kafka)", () => {
  test('an idle connection checks its queue of waiting requests never, and queued requests are still sent', async ({
    kafka,
  }) => {
    const topic = await kafka.createTopic('idle-timer');
    const client = createKafkaClient({
      clientId: 'kit-idle',
      brokers: kafka.brokers,
      logger: recordingLog(),
    });
    // One request in flight at a time: concurrent sends wait in the queue this timer serves.
    const producer = client.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1 });
    const queue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js').prototype as {
      checkPendingRequests(): void;
    };
    const check = queue.checkPendingRequests;
    let checks = 0;
    queue.checkPendingRequests = function (this: unknown) {
      checks++;
      return check.call(this);
    };
    await producer.connect();
    try {
      const sent = await Promise.all(
        Array.from({ length: 20 }, (_, i) => producer.send({ topic, messages: [{ value: `m${i}` }] })),
      );
      expect(sent.flat().every((r) => r.errorCode === 0)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      checks = 0;
      // Nothing is waiting now: before the fix the check ran about once a millisecond here.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(checks).toBe(0);
    } finally {
      queue.checkPendingRequests = check;
      await producer.disconnect();
    }
  });

  test('a connection checks for timed-out requests only while one is in flight', async ({ kafka }) => {
    const topic = await kafka.createTopic('idle-timeout-check');
    const client = createKafkaClient({
      clientId: 'kit-idle-timeouts',
      brokers: kafka.brokers,
      logger: recordingLog(),
    });
    const producer = client.producer({ allowAutoTopicCreation: false });
    type Queue = { inflight: Map<number, unknown>; requestTimeoutIntervalId: unknown };
    const prototype = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js')
      .prototype as {
      sendSocketRequest(request: unknown): void;
    };
    const send = prototype.sendSocketRequest;
    const queues = new Set<Queue>();
    let armedWhileSending = 0;
    prototype.sendSocketRequest = function (this: Queue, request: unknown) {
      send.call(this, request);
      queues.add(this);
      if (this.inflight.size > 0 && this.requestTimeoutIntervalId) armedWhileSending++;
    };
    await producer.connect();
    try {
      const sent = await producer.send({ topic, messages: [{ value: 'm' }] });
      expect(sent.every((r) => r.errorCode === 0)).toBe(true);
      expect(armedWhileSending).toBeGreaterThan(0);
      // The check stops at its first tick (100 ms) with nothing in flight; kafkajs' ran until disconnect.
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(queues.size).toBeGreaterThan(0);
      expect([...queues].filter((queue) => queue.requestTimeoutIntervalId)).toEqual([]);
    } finally {
      prototype.sendSocketRequest = send;
      await producer.disconnect();
    }
  });
});

describe('ensureTopics (real Kafka)', () => {
  test('creates what is missing with its partition count, and a second call changes nothing', async ({
    kafka,
  }) => {
    const id = uniqueId();
    const wanted = [
      { topic: `t-${id}-clicks`, numPartitions: 4 },
      { topic: `t-${id}-dlq`, numPartitions: 1 },
    ];
    const log = recordingLog();
    try {
      const first = await ensureTopics(kafka.admin, wanted, { log });
      expect(Object.fromEntries(first)).toEqual({ [`t-${id}-clicks`]: 4, [`t-${id}-dlq`]: 1 });
      expect(log.lines.filter((l) => l.msg === 'created kafka topics')).toHaveLength(1);

      // From a client rather than an admin: it opens and closes its own admin.
      const client = createKafkaClient({ clientId: 'kit-topics', brokers: kafka.brokers, logger: log });
      const second = await ensureTopics(client, wanted, { log });
      expect(second).toEqual(first);
      expect(log.lines.filter((l) => l.msg === 'created kafka topics')).toHaveLength(1);
      expect(log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);

      const described = await kafka.admin.fetchTopicMetadata({ topics: wanted.map((t) => t.topic) });
      expect(described.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
        [`t-${id}-clicks`, 4],
        [`t-${id}-dlq`, 1],
      ]);
    } finally {
      await kafka.admin.deleteTopics({ topics: wanted.map((t) => t.topic) }).catch(() => undefined);
    }
  });

  test('warns, and does not fail, when the topic exists with another partition count', async ({ kafka }) => {
    const topic = await kafka.createTopic('fixed', 2);
    const log = recordingLog();
    const partitions = await ensureTopics(kafka.admin, [{ topic, numPartitions: 6 }], { log });
    expect(partitions.get(topic)).toBe(2);
    const warned = log.lines.filter((l) => l.level === 'warn');
    expect(warned).toHaveLength(1);
    expect(warned[0]?.obj).toMatchObject({ topic, partitions: 2, configured: 6 });
  });

  test('processes starting together on a new topic all come up with it, none failing', async ({ kafka }) => {
    const topic = `t-${uniqueId()}-race`;
    const log = recordingLog();
    // Five processes' worth of clients racing on one fresh, wide topic: the losers meet it while
    // it is being created (the compose start-up that made the worker restart).
    const clients = Array.from({ length: 5 }, (_, i) =>
      createKafkaClient({ clientId: `kit-race-${i}`, brokers: kafka.brokers, logger: log }),
    );
    try {
      const results = await Promise.all(
        clients.map((client) =>
          ensureTopics(client, [{ topic, numPartitions: 24 }], { log, baseDelayMs: 20, maxDelayMs: 200 }),
        ),
      );
      expect(results.map((r) => r.get(topic))).toEqual([24, 24, 24, 24, 24]);
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await kafka.admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    }
  });

  test('what a topic without leaders answers is retried, even as kafkajs wraps it as non-retriable', async ({
    kafka,
  }) => {
    // The broker's own answer for a topic it does not host (yet).
    const answer = await kafka.admin.fetchTopicMetadata({ topics: [`t-${uniqueId()}-absent`] }).then(
      () => undefined,
      (error: unknown) => error as KafkaJSProtocolError,
    );
    expect(answer?.type).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(isTopicNotReady(answer)).toBe(true);
    // What createTopics' wait for leaders rejects with when it bails on that answer.
    const bailed = new KafkaJSNonRetriableError(answer as Error);
    expect(bailed.retriable).toBe(false);
    expect(isTopicNotReady(bailed)).toBe(true);
    expect(isTopicNotReady(new Error('Invalid replication factor'))).toBe(false);
    expect(isTopicNotReady(undefined)).toBe(false);
  });
});
