import { connect, type Socket } from 'node:net';
import { freePort, test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import type { SocketFactory } from '../src/adapters/kafka.ts';
import { buildApp } from '../src/main.ts';
import { buildWorker } from '../src/worker.ts';
import { createAd } from './support/ads.ts';
import { ADMIN } from './support/auth.ts';
import { storedCounts } from './support/counts.ts';
import { spooledEnv } from './support/env.ts';
import { metric } from './support/metrics.ts';
import { waitAllCommitted } from './support/offsets.ts';

/**
 * The link between the ingest and Kafka, which the test can cut: kafkajs opens every broker
 * connection through this factory. Cutting destroys the open sockets and sends new connections to
 * a closed port (ECONNREFUSED), which is what the ingest sees when the broker is down, without
 * stopping the broker every other suite shares.
 */
function cuttableLink(closedPort: number) {
  const open = new Set<Socket>();
  let cut = false;
  const factory: SocketFactory = ({ host, port, onConnect }) => {
    const socket = cut
      ? connect({ host: '127.0.0.1', port: closedPort }, onConnect)
      : connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 30_000);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    return socket;
  };
  return {
    factory,
    cut() {
      cut = true;
      // With an error: kafkajs fails its in-flight requests on 'error' (a bare close would leave
      // them to the 30 s request timeout).
      for (const s of open) s.destroy(new Error('link to Kafka cut by the test'));
    },
    restore() {
      cut = false;
    },
  };
}

describe('Kafka outage at the ingest', () => {
  test('redirects keep answering while Kafka is unreachable and every click is counted once it returns', {
    timeout: 180_000,
  }, async ({ pg, redis, kafka }) => {
    const { topics, spool, env } = await spooledEnv({ pg, redis, kafka }, 3, { SHIP_RETRY_MAX_MS: '500' });
    const link = cuttableLink(await freePort());
    const ingest = await buildApp(env, { kafkaSocketFactory: link.factory });
    const worker = await buildWorker(env);
    const { app } = ingest;
    const registry = app.kit.metrics;
    let second: typeof ingest | undefined;
    let recorded = 0;

    /** `n` clicks on fresh impressions; the redirect statuses. */
    async function clicks(n: number): Promise<number[]> {
      const target = second?.app ?? app;
      const signed = await target.inject({
        method: 'POST',
        headers: ADMIN,
        url: '/ads/ad-1/impressions',
        payload: { count: n },
      });
      const statuses: number[] = [];
      for (const { clickUrl } of signed.json().impressions as { clickUrl: string }[]) {
        const response = await target.inject(clickUrl);
        statuses.push(response.statusCode);
        if (response.headers['x-click-outcome'] === 'recorded') recorded++;
      }
      return statuses;
    }

    const storedClicks = async () => {
      const { rows } = await pg.pool.query<{ n: string }>(
        'SELECT count(DISTINCT impression_id)::text AS n FROM adclick.raw_clicks',
      );
      return Number(rows[0]!.n);
    };
    const observed: Record<string, number> = {};
    try {
      await createAd(app, { adId: 'ad-1', campaignId: 'c', targetUrl: 'https://example.com/landing' });
      // Before: Kafka reachable.
      expect(new Set(await clicks(20))).toEqual(new Set([302]));
      await waitFor('the first clicks to be stored', async () => (await storedClicks()) === 20);

      // Outage 1: every redirect still answers 302; the clicks wait in the spool.
      link.cut();
      const during = await clicks(200);
      expect(new Set(during)).toEqual(new Set([302]));
      await waitFor(
        'a failed produce',
        async () => (await metric(registry, 'sdlab_adclick_spool_ship_failures_total')) > 0,
      );
      observed.redirectsDuringOutage1 = during.length;
      observed.backlogBytesDuringOutage1 = await metric(registry, 'sdlab_adclick_spool_backlog_bytes');
      observed.storedDuringOutage1 = await storedClicks();
      expect(observed.backlogBytesDuringOutage1).toBeGreaterThan(0);
      expect(await metric(registry, 'sdlab_adclick_ingest_kafka_connected')).toBe(0);
      // Kafka is not a readiness dependency of the ingest: the spool is what keeps it serving.
      expect((await app.inject('/readyz')).statusCode).toBe(200);

      // Kafka returns: the same process reconnects and drains the spool.
      link.restore();
      await waitFor('the backlog of outage 1 to be stored', async () => (await storedClicks()) === recorded);
      expect(await metric(registry, 'sdlab_adclick_spool_backlog_bytes')).toBe(0);

      // Outage 2, and the ingest restarts during it (a deploy, a crash): the spool is on disk and
      // the next process, with Kafka reachable again, drains it.
      link.cut();
      expect(new Set(await clicks(100))).toEqual(new Set([302]));
      await app.close();
      link.restore();
      second = await buildApp(env, { kafkaSocketFactory: link.factory });
      expect(new Set(await clicks(30))).toEqual(new Set([302]));
      await waitFor('every recorded click to be stored', async () => (await storedClicks()) === recorded);

      const end = await waitAllCommitted(pg.pool, kafka.admin, topics.clicks);
      const counts = await storedCounts(pg.pool, 'day');
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      expect(recorded).toBe(350);
      expect(total).toBe(recorded);
      console.info('kafka outage observed', {
        ...observed,
        shipFailuresFirstProcess: await metric(registry, 'sdlab_adclick_spool_ship_failures_total'),
        shippedAfterRestart: await metric(second.app.kit.metrics, 'sdlab_adclick_spool_shipped_total'),
        recorded,
        messagesInTopic: end,
        counted: total,
      });
    } finally {
      await worker.app.close();
      await second?.app.close();
      await app.close().catch(() => undefined);
      spool.remove();
    }
  });
});
