// Generates one Grafana dashboard per service: its RED metrics (from the kit's
// http_request_duration_seconds) and the signals that show its pattern working.
// Run `node infra/compose/grafana/service-dashboards.ts && pnpm format` after changing a panel list;
// infra/test/grafana-dashboards.test.ts fails when the JSON files are stale or name a metric
// the service does not export.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PatternPanel {
  title: string;
  description: string;
  expr: string;
  legend: string;
  unit: string;
}

export interface ServiceDashboard {
  service: string;
  /** Value of the kit's `service` label on the API's series. */
  label: string;
  /** Files whose text must mention every sdlab_* metric the panels use. */
  telemetry: string[];
  panels: PatternPanel[];
}

export const DASHBOARDS: ServiceDashboard[] = [
  {
    service: 'url-shortener',
    label: 'url-shortener',
    telemetry: ['services/url-shortener/src/telemetry.ts'],
    panels: [
      {
        title: 'Cache hit ratio per layer',
        description: 'Share of lookups answered by each layer: in-process LRU, then Redis, then Postgres.',
        expr: 'sum by (layer) (rate(sdlab_shortener_cache_lookups_total{result="hit"}[1m])) / ignoring(layer) group_left sum(rate(sdlab_shortener_cache_lookups_total[1m]))',
        legend: '{{layer}}',
        unit: 'percentunit',
      },
      {
        title: 'Postgres reads per second',
        description: 'What reaches the database; single-flight and the negative cache keep it low.',
        expr: 'sum(rate(sdlab_shortener_db_reads_total[1m]))',
        legend: 'reads/s',
        unit: 'reqps',
      },
      {
        title: 'Click events produced / failed',
        description: 'Redirects publish click events to Kafka without waiting; failures are counted.',
        expr: 'sum(rate(sdlab_shortener_click_events_produced_total[1m])) or vector(0)',
        legend: 'produced/s',
        unit: 'ops',
      },
      {
        title: 'ID block refills',
        description: 'INCRBY 1000 per refill; one refill per thousand creates per instance.',
        expr: 'sum by (mode) (increase(sdlab_shortener_id_block_refills_total[5m]))',
        legend: '{{mode}}',
        unit: 'short',
      },
    ],
  },
  {
    service: 'rate-limiter',
    label: 'rate-limiter',
    telemetry: ['libs/rate-limit/src/telemetry.ts'],
    panels: [
      {
        title: 'Decisions by outcome',
        description: 'Allowed versus denied checks per rule.',
        expr: 'sum by (rule, outcome) (rate(sdlab_ratelimit_decisions_total[1m]))',
        legend: '{{rule}} {{outcome}}',
        unit: 'ops',
      },
      {
        title: 'Decision source',
        description: 'redis (exact), local-cache (hot keys), or a failure policy while Redis is down.',
        expr: 'sum by (source) (rate(sdlab_ratelimit_decisions_total[1m]))',
        legend: '{{source}}',
        unit: 'ops',
      },
      {
        title: 'Circuit breaker state',
        description: 'The Redis breaker: while open, decisions are local and fast.',
        expr: 'max(sdlab_ratelimit_breaker_state)',
        legend: 'state',
        unit: 'short',
      },
      {
        title: 'Check duration p99 by source',
        description: 'Target: p99 < 10 ms per check [002:484].',
        expr: 'histogram_quantile(0.99, sum by (le, source) (rate(sdlab_ratelimit_check_duration_seconds_bucket[1m])))',
        legend: '{{source}}',
        unit: 's',
      },
    ],
  },
  {
    service: 'ad-click-aggregator',
    label: 'ad-click-aggregator',
    telemetry: ['services/ad-click-aggregator/src/telemetry.ts'],
    panels: [
      {
        title: 'Clicks by outcome',
        description: 'Accepted, duplicate (Redis SET NX EX 3600) and rejected clicks at the ingest.',
        expr: 'sum by (outcome) (rate(sdlab_adclick_ingest_clicks_total[1m]))',
        legend: '{{outcome}}',
        unit: 'ops',
      },
      {
        title: 'Consumer lag (messages)',
        description: 'Per partition, from the aggregator worker.',
        expr: 'sum by (partition) (sdlab_adclick_aggregator_consumer_lag_messages)',
        legend: 'p{{partition}}',
        unit: 'short',
      },
      {
        title: 'Late and dead-lettered events',
        description: 'Late within 5 min update their window; later ones go to the dead-letter topic.',
        expr: 'sum by (disposition) (rate(sdlab_adclick_aggregator_events_total[1m]))',
        legend: '{{disposition}}',
        unit: 'ops',
      },
      {
        title: 'Spool backlog',
        description: 'Bytes of clicks waiting on disk for Kafka; grows only while Kafka is unreachable.',
        expr: 'max(sdlab_adclick_spool_backlog_bytes)',
        legend: 'backlog',
        unit: 'bytes',
      },
    ],
  },
];

const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' };

function timeseries(
  id: number,
  x: number,
  y: number,
  title: string,
  description: string,
  expr: string,
  legend: string,
  unit: string,
) {
  return {
    id,
    type: 'timeseries',
    title,
    description,
    datasource: PROMETHEUS,
    gridPos: { x, y, w: 12, h: 8 },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: [{ refId: 'A', datasource: PROMETHEUS, expr, legendFormat: legend, range: true }],
  };
}

export function dashboardJson(d: ServiceDashboard): object {
  const s = `service="${d.label}"`;
  const red = [
    [
      'Requests per second by route',
      'Rate: every route the service answered.',
      `sum by (route) (rate(http_request_duration_seconds_count{${s}}[1m]))`,
      '{{route}}',
      'reqps',
    ],
    [
      'Error ratio (5xx)',
      'Errors: share of responses with a 5xx status.',
      `sum(rate(http_request_duration_seconds_count{${s},status_code=~"5.."}[1m])) / sum(rate(http_request_duration_seconds_count{${s}}[1m]))`,
      'errors',
      'percentunit',
    ],
    [
      'p95 latency by route',
      'Duration: the bucket edges sit on the SLO thresholds.',
      `histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{${s}}[1m])))`,
      '{{route}}',
      's',
    ],
    [
      'p99 latency by route',
      'Duration, tail.',
      `histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{${s}}[1m])))`,
      '{{route}}',
      's',
    ],
  ] as const;
  const panels = [
    ...red.map(([title, desc, expr, legend, unit], i) =>
      timeseries(i + 1, (i % 2) * 12, Math.floor(i / 2) * 8, title, desc, expr, legend, unit),
    ),
    ...d.panels.map((p, i) =>
      timeseries(
        red.length + i + 1,
        (i % 2) * 12,
        16 + Math.floor(i / 2) * 8,
        p.title,
        p.description,
        p.expr,
        p.legend,
        p.unit,
      ),
    ),
  ];
  return {
    uid: `sdlab-${d.service}`,
    title: `SDLab · ${d.service}`,
    description: `RED metrics and the pattern's own signals for ${d.service} (generated by infra/compose/grafana/service-dashboards.ts).`,
    tags: ['sdlab', d.service],
    editable: false,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-30m', to: 'now' },
    refresh: '10s',
    timezone: 'browser',
    panels,
  };
}

export function dashboardPath(service: string): string {
  return fileURLToPath(new URL(`./dashboards/${service}.json`, import.meta.url));
}

if (import.meta.main) {
  for (const d of DASHBOARDS)
    writeFileSync(dashboardPath(d.service), `${JSON.stringify(dashboardJson(d), null, 2)}\n`);
}
