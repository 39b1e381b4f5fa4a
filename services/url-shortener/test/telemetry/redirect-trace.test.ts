import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';
import { startInstance } from '../support/processes.ts';

describe('tracing', () => {
  test('a cold redirect shows its Redis and Postgres hops, and the click flush links back to it', async ({
    env,
    pg,
    kafka,
  }) => {
    // A real process started the production way: instrumentation loaded before the app.
    const instance = await startInstance(env, { spanLog: true });
    try {
      await pg.pool.query(
        "INSERT INTO shortener.links (code, long_url, is_alias, created_at) VALUES ('traced1', 'https://example.com/t', false, now()), ('untraced1', 'https://example.com/u', false, now())",
      );
      // First a redirect whose caller chose not to sample it: its click flush must start no trace
      // (a root span per flush would take the sampler's budget from requests).
      const untraced = await fetch(`${instance.url}/untraced1`, {
        redirect: 'manual',
        headers: { traceparent: `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-00` },
      });
      expect(untraced.status).toBe(302);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const response = await fetch(`${instance.url}/traced1`, { redirect: 'manual' });
      expect(response.status).toBe(302);
      await expect
        .poll(() => instance.stdout().includes('shortener.clicks.flush'), { timeout: 10_000 })
        .toBe(true);
    } finally {
      await instance.stop();
      await kafka.admin.deleteTopics({ topics: [env.CLICKS_TOPIC!] }).catch(() => undefined);
    }
    const spans = instance.spans();
    const server = spans.find((s) => s.span === 'GET /:code');
    expect(server, `spans: ${spans.map((s) => s.span).join(', ')}`).toBeDefined();
    const trace = spans.filter((s) => s.traceId === server!.traceId);
    const names = trace.map((s) => s.span);
    expect(trace.some((s) => s.attributes['sdlab.shortener.code'] === 'traced1')).toBe(true);
    expect(trace.some((s) => s.attributes['sdlab.shortener.cache_layer'] === 'postgres')).toBe(true);
    expect(
      names.some((n) => /evalsha|getWithTtl/i.test(n)),
      names.join(', '),
    ).toBe(true);
    expect(
      names.some((n) => /^(pg\.query|SELECT)/.test(n)),
      names.join(', '),
    ).toBe(true);

    const flushes = spans.filter((s) => s.span === 'shortener.clicks.flush');
    expect(
      flushes.map((s) => s.links.map((link) => link.traceId)),
      'every flush trace carries a traced redirect',
    ).toEqual([[server!.traceId]]);
    expect(spans.some((s) => s.traceId === 'a1'.repeat(16))).toBe(false);
    const flush = flushes[0];
    // Its own trace, linked to the redirect (a batch serves many redirects; it is no one's child).
    expect(flush!.traceId).not.toBe(server!.traceId);
    expect(flush!.links.map((link) => link.traceId)).toContain(server!.traceId);
    const send = spans.find((s) => s.traceId === flush!.traceId && s.parentSpanId === flush!.spanId);
    expect(
      send,
      `flush trace: ${spans
        .filter((s) => s.traceId === flush!.traceId)
        .map((s) => s.span)
        .join(', ')}`,
    ).toBeDefined();
    console.info(`redirect trace: ${names.join(' | ')}; flush → ${send!.span}`);
  });
});
