import type { FastifyBaseLogger } from 'fastify';
import { type Admin, Kafka, type KafkaConfig, type LogEntry, logLevel } from 'kafkajs';
import { stopIdleRequestQueueTimers } from './kafkajs-request-queue.ts';
import { isRetriable, retry } from './retry.ts';

// The one way a service opens kafkajs and declares its topics. Both were copied per service (the
// ad-click aggregator and the URL shortener); the copies drifted, and the ad-click copy of the
// topic set-up did not retry the error it was written for (see isTopicNotReady).

export type KafkaLog = Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

/** How kafkajs opens its TCP connections; tests pass one that can cut the link to the broker. */
export type SocketFactory = NonNullable<KafkaConfig['socketFactory']>;

export interface KafkaClientOptions {
  clientId: string;
  /** Broker addresses, or one comma-separated string of them (the services' `KAFKA_BROKERS`). */
  brokers: string | readonly string[];
  logger: KafkaLog;
  /** kafkajs' client-level retry; its defaults when left out. */
  retry?: KafkaConfig['retry'];
  connectionTimeout?: number;
  socketFactory?: SocketFactory;
}

const REBALANCING = /rebalanc/i;
const CONNECTION = /connection error|failed to connect|ECONNREFUSED|timed out|closed connection/i;
// kafkajs warns each time an idempotent producer is created with a retry limit. A caller sets that
// limit on purpose (ad-click's spool shipper replaces the producer and the aggregator deduplicates
// what it re-sends), so it is not worth a warning on every reconnect.
const IDEMPOTENT_RETRY_LIMIT = /^Limiting retries for the idempotent producer/;
// kafkajs logs a broker's error answer to CreateTopics at error level before rejecting with it;
// ensureTopics reads the rejection (another process creating the topic first is a success), and
// callers of createTopics see the rejection anyway.
const CREATE_TOPICS_ANSWER = /^Response CreateTopics\b/;

export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const { logger: log } = options;
  // Idle connections otherwise wake up every millisecond (see kafkajs-request-queue.ts).
  stopIdleRequestQueueTimers();
  const brokers =
    typeof options.brokers === 'string'
      ? options.brokers
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean)
      : [...options.brokers];
  return new Kafka({
    clientId: options.clientId,
    brokers,
    logLevel: logLevel.WARN,
    ...(options.connectionTimeout !== undefined ? { connectionTimeout: options.connectionTimeout } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
    // kafkajs logs to the console by default; route it through pino so lines carry the trace id.
    logCreator:
      () =>
      ({ level, log: { message, ...extra } }: LogEntry) => {
        // "The group is rebalancing" answers to heartbeats are how a rebalance starts, not failures;
        // connection errors repeat on every retry of an outage, which the callers report once.
        if (level <= logLevel.ERROR && REBALANCING.test(String(extra.error ?? '')))
          log.info({ kafka: extra }, message);
        else if (level <= logLevel.ERROR && CONNECTION.test(message)) log.warn({ kafka: extra }, message);
        else if (IDEMPOTENT_RETRY_LIMIT.test(message)) log.debug({ kafka: extra }, message);
        else if (CREATE_TOPICS_ANSWER.test(message)) log.info({ kafka: extra }, message);
        else if (level <= logLevel.ERROR) log.error({ kafka: extra }, message);
        else if (level === logLevel.WARN) log.warn({ kafka: extra }, message);
      },
  });
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
}

export interface EnsureTopicsOptions {
  log: KafkaLog;
  /** Start-up budget for a topic whose leaders are not known yet (default 30 s). */
  timeoutMs?: number;
  /** Tests shorten the waits between attempts. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const NOT_READY = /does not host this topic-partition|leader|coordinator is loading/i;

/**
 * A just-created topic (by this process or another starting beside it) answers "This server does
 * not host this topic-partition" or "There is no leader for this topic-partition" until its
 * leaders are known. kafkajs' createTopics waits for leaders but bails out of that wait on the
 * first, rejecting with the broker's answer. Read by its type or message, so that a wrapper which
 * marks it non-retriable (kafkajs' own "retries exceeded" does) still counts as not ready.
 */
export function isTopicNotReady(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { message?: unknown; type?: unknown; cause?: unknown };
  if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION' || e.type === 'LEADER_NOT_AVAILABLE') return true;
  if (typeof e.message === 'string' && NOT_READY.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== error && isTopicNotReady(e.cause);
}

/**
 * Creates the topics that do not exist yet, explicitly: brokers here never auto-create, and a topic
 * made by accident would get the broker's default partition count. Retries, within `timeoutMs`,
 * while a topic has no leader yet or the broker is briefly out of reach, instead of failing the
 * start. Two processes racing to create the same topic both end well. Warns when a topic exists
 * with another partition count (the partition count is a unit of scale, and keyed ordering holds
 * only while it is fixed). Resolves to each topic's actual partition count.
 */
export async function ensureTopics(
  target: Admin | Kafka,
  topics: readonly TopicSpec[],
  options: EnsureTopicsOptions,
): Promise<Map<string, number>> {
  const { log } = options;
  const ownAdmin = !isAdmin(target);
  const admin = isAdmin(target) ? target : target.admin();
  if (ownAdmin) await admin.connect();
  try {
    const metadata = await retry(
      async () => {
        // Asking first keeps the usual restart quiet: kafkajs logs the broker's "already exists"
        // answer at error level.
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t.topic));
        if (missing.length) {
          const created = await admin
            .createTopics({ topics: missing.map((t) => ({ ...t })), waitForLeaders: true })
            .catch((error: unknown) => {
              // Another process created it between our list and our create.
              if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return false;
              throw error;
            });
          if (created) log.info({ topics: missing }, 'created kafka topics');
        }
        return admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
      },
      {
        maxAttempts: 30,
        maxElapsedMs: options.timeoutMs ?? 30_000,
        ...(options.baseDelayMs !== undefined ? { baseDelayMs: options.baseDelayMs } : {}),
        ...(options.maxDelayMs !== undefined ? { maxDelayMs: options.maxDelayMs } : {}),
        isRetriable: (error) => isTopicNotReady(error) || isRetriable(error),
        onRetry: ({ error, attempt }) =>
          log.info(
            { err: error, attempt, topics: topics.map((t) => t.topic) },
            'kafka topics not ready yet; waiting',
          ),
      },
    );
    const partitions = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
    for (const { topic, numPartitions } of topics) {
      const actual = partitions.get(topic) ?? 0;
      if (actual !== numPartitions) {
        log.warn(
          { topic, partitions: actual, configured: numPartitions },
          'kafka topic exists with another partition count (keyed ordering holds only while it is fixed)',
        );
      }
    }
    return partitions;
  } finally {
    if (ownAdmin) await admin.disconnect();
  }
}

function isAdmin(target: Admin | Kafka): target is Admin {
  return typeof (target as Partial<Kafka>).admin !== 'function';
}
