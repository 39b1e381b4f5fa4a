import { type LoggedSpan, test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { ADMIN } from './support/auth.ts';
import { spooledEnv } from './support/env.ts';
import { waitAllCommitted } from './support/offsets.ts';
import { type RunningProcess, startProcess } from './support/processes.ts';

function spans(...processes: RunningProcess[]): LoggedSpan[] {
  return processes.flatMap((p) => p.spans());
}

describe('tracing', () => {
  test("one click's trace runs from the ingest request through Kafka to the aggregator's Postgres flush", async ({
    pg,
    redis,
    kafka,
  }) => {
    const { topics, spool, env } = await spooledEnv({ pg, redis, kafka }, 2, { LOG_LEVEL: 'warn' });
    const worker = await startProcess(
      'src/worker.ts',
      { ...env, OTEL_SERVICE_NAME: 'adclick-worker' },
      { spanLog: true },
    );
    let ingest: RunningProcess | undefined;
    try {
      ingest = await startProcess(
        'src/main.ts',
        { ...env, OTEL_SERVICE_NAME: 'adclick-ingest' },
        { spanLog: true },
      );
      const post = (path: string, body: unknown) =>
        fetch(`${ingest!.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...ADMIN },
          body: JSON.stringify(body),
        });
      expect(
        (await post('/ads', { adId: 'ad-t', campaignId: 'c', targetUrl: 'https://example.com/' })).status,
      ).toBe(201);
      const { impressions } = (await (await post('/ads/ad-t/impressions', {})).json()) as {
        impressions: { clickUrl: string }[];
      };
      const click = await fetch(`${ingest.url}${impressions[0]!.clickUrl}`, { redirect: 'manual' });
      expect(click.status).toBe(302);
      await waitFor('the click to be counted', async () => {
        const { rows } = await pg.pool.query('SELECT 1 FROM adclick.clicks_minute WHERE ad_id = $1', [
          'ad-t',
        ]);
        return rows.length === 1;
      });
      await waitAllCommitted(pg.pool, kafka.admin, topics.clicks);

      const all = await waitFor('the flush span', () => {
        const found = spans(ingest!, worker);
        return (
          found.some(
            (s) => s.span === 'aggregator flush' && s.attributes['sdlab.adclick.batch_size'] === 1,
          ) && found
        );
      });
      const request = all.find((s) => s.span === 'GET /c/:impression');
      expect(request, `spans: ${[...new Set(all.map((s) => s.span))].join(', ')}`).toBeDefined();
      const trace = all.filter((s) => s.traceId === request!.traceId);
      const byId = new Map(trace.map((s) => [s.spanId, s]));
      const names = (s: LoggedSpan) => `${s.service}: ${s.span}`;
      const chainTo = (s: LoggedSpan): string[] => {
        const chain = [names(s)];
        for (let p = byId.get(s.parentSpanId ?? ''); p; p = byId.get(p.parentSpanId ?? ''))
          chain.unshift(names(p));
        return chain;
      };

      const flush = trace.find((s) => s.span === 'aggregator flush');
      expect(flush, `in the trace: ${trace.map(names).join(', ')}`).toBeDefined();
      const query = (s: LoggedSpan) => String(s.attributes['db.query.text'] ?? '');
      const inFlush = trace.filter((s) => s.parentSpanId === flush!.spanId);
      // The flush transaction: the offsets' compare-and-set and the raw insert with its roll-ups.
      expect(inFlush.some((s) => query(s).includes('adclick.consumer_offsets'))).toBe(true);
      const pgSpan = inFlush.find((s) => query(s).includes('INSERT INTO adclick.raw_clicks'));
      expect(
        pgSpan,
        `children of the flush: ${trace
          .filter((s) => s.parentSpanId === flush!.spanId)
          .map(names)
          .join(', ')}`,
      ).toBeDefined();
      const chain = chainTo(pgSpan!);
      expect(chain[0]).toBe('adclick-ingest: GET /c/:impression');
      expect(chain).toEqual(
        expect.arrayContaining([
          'adclick-ingest: spool ship',
          `adclick-ingest: send ${topics.clicks}`,
          'adclick-worker: aggregator flush',
        ]),
      );
      // The dedup call (markFirstClicks, run by its SHA) is in the trace of the click it carried.
      expect(trace.some((s) => s.service === 'adclick-ingest' && /evalsha/i.test(s.span))).toBe(true);
      console.info('trace observed', { chain, spansInTrace: trace.length });
    } finally {
      await ingest?.kill('SIGTERM');
      await worker.kill('SIGTERM');
      spool.remove();
    }
  });
});
