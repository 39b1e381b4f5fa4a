import { context, type Link, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { withTraceContext } from '@sdlab/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Consumer } from 'kafkajs';
import type pg from 'pg';
import type { Keys } from '../keys.ts';
import { addVisitors as addVisitorsInRedis } from '../scripts/index.ts';
import { Attr, type WorkerMetrics } from '../telemetry.ts';
import { type ClickTally, parseClickTallies } from './clicks.ts';
import { applyClickBatch, clickCount, type OffsetEvent } from './stats-repository.ts';

const tracer = trace.getTracer('url-shortener-worker');
/** A link's clicks of one message, at the message's offset. */
type TallyAt = OffsetEvent & { event: ClickTally };
const MAX_LINKS = 64;

export interface StatsConsumerDeps {
  consumer: Consumer;
  topic: string;
  pool: pg.Pool;
  redis: Redis;
  keys: Keys;
  metrics: WorkerMetrics;
  log: FastifyBaseLogger;
}

/**
 * Consumes click events in batches (eachBatch) and updates per-link stats: unique visitors with
 * a PFADD per link per batch, many links per script call (HyperLogLog, ~12 KB per link at most
 * [003:2707-2771]), totals and last click with one row per link per batch in Postgres. Never a
 * database write per redirect.
 */
export async function startStatsConsumer(deps: StatsConsumerDeps): Promise<void> {
  const { consumer, topic, metrics, log } = deps;
  // From the beginning for a new group: the offsets kept in Postgres skip whatever was counted.
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      const events: TallyAt[] = [];
      for (const message of batch.messages) {
        // A message carries the clicks of one flush for this partition, by link; they share its offset.
        const { tallies, invalid } = parseClickTallies(message.value);
        for (const event of tallies) events.push({ offset: message.offset, event });
        if (invalid > 0) metrics.statsEvents.inc({ outcome: 'invalid' }, invalid);
      }
      await tracer.startActiveSpan(
        'shortener.stats.apply_batch',
        { links: traceLinks(events) },
        async (span) => {
          span.setAttribute(Attr.batchSize, clickCount(events));
          span.setAttribute(Attr.partition, batch.partition);
          try {
            // Visitors first: PFADD is idempotent, so a replay after a crash between the two steps
            // changes nothing, while the reverse order could lose visitors of a counted batch.
            // Outside the span's context: one Redis span per link (hundreds a batch) would cost
            // more than the batch; the span carries their number instead.
            const visitorLinks = await context.with(ROOT_CONTEXT, () =>
              addVisitors(
                deps,
                events.map((e) => e.event),
              ),
            );
            span.setAttribute(Attr.visitorLinks, visitorLinks);
            const result = await applyClickBatch(deps.pool, batch.topic, batch.partition, events);
            metrics.statsBatchSize.observe(result.applied + result.duplicates);
            metrics.statsEvents.inc({ outcome: 'applied' }, result.applied);
            if (result.duplicates) metrics.statsEvents.inc({ outcome: 'duplicate' }, result.duplicates);
            metrics.statsLinksUpdated.inc(result.linksUpdated);
          } finally {
            span.end();
          }
        },
      );
      // Without resolveOffset the fetcher would hand the same messages over again (counted once
      // thanks to the offsets in Postgres, but re-read forever). Kafka's committed offset only saves
      // re-reading after a restart; correctness rests on the offset stored with the totals.
      resolveOffset(batch.lastOffset());
      const next = (BigInt(batch.lastOffset()) + 1n).toString();
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      await heartbeat();
    },
  });
  log.info({ topic }, 'stats consumer running');
}

/** Each link's visitors added to its HyperLogLog, many links per script call; returns the number of links. */
async function addVisitors(deps: StatsConsumerDeps, tallies: readonly ClickTally[]): Promise<number> {
  const visitors = new Map<string, Set<string>>();
  for (const { code, visitors: ids } of tallies) {
    const set = visitors.get(code);
    if (set) for (const id of ids) set.add(id);
    else visitors.set(code, new Set(ids));
  }
  if (visitors.size === 0) return 0;
  const byKey = new Map<string, Set<string>>();
  for (const [code, set] of visitors) byKey.set(deps.keys.visitors(code), set);
  await addVisitorsInRedis(deps.redis, byKey);
  return visitors.size;
}

function traceLinks(events: readonly TallyAt[]): Link[] {
  const links: Link[] = [];
  for (const { event } of events) {
    for (const carrier of event.traces) {
      if (links.length >= MAX_LINKS) return links;
      const spanContext = withTraceContext(carrier, () => trace.getSpanContext(context.active()));
      if (spanContext) links.push({ context: spanContext });
    }
  }
  return links;
}
