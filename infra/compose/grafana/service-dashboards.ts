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
  /** Further queries drawn on the same panel (one target each). */
  more?: { expr: string; legend: string }[];
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
        description:
          'INCRBY 1000 per refill; one refill per thousand creates per instance. Reseeds: the counter came back empty or behind the Postgres high-water mark and was raised to it; refused: a block below the mark, skipped.',
        expr: 'sum by (mode) (increase(sdlab_shortener_id_block_refills_total[5m]))',
        legend: '{{mode}}',
        unit: 'short',
        more: [
          { expr: 'sum(increase(sdlab_shortener_id_counter_reseeds_total[5m]))', legend: 'counter reseeds' },
          { expr: 'sum(increase(sdlab_shortener_id_blocks_refused_total[5m]))', legend: 'blocks refused' },
        ],
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
    service: 'chat-gateway',
    label: 'chat-gateway',
    telemetry: ['services/chat-gateway/src/telemetry.ts'],
    panels: [
      {
        title: 'Open WebSockets per instance',
        description: 'Connections each gateway holds; the Redis registry maps user/device to one of them.',
        expr: 'sum by (instance) (sdlab_chat_open_sockets)',
        legend: '{{instance}}',
        unit: 'short',
      },
      {
        title: 'Deliveries by path',
        description:
          'Frames pushed to local sockets: straight from this instance (local) or through Redis pub/sub from another.',
        expr: 'sum by (kind, path) (rate(sdlab_chat_deliveries_total[1m]))',
        legend: '{{kind}} {{path}}',
        unit: 'ops',
      },
      {
        title: 'Ack and delivery p95',
        description:
          'Ack: the send stored in Postgres (an ack means durable). Delivery: stored to written on the recipient socket; target P95 < 100 ms [001:611].',
        expr: 'histogram_quantile(0.95, sum by (le) (rate(sdlab_chat_ack_duration_seconds_bucket[1m])))',
        legend: 'ack p95',
        more: [
          {
            expr: 'histogram_quantile(0.95, sum by (le) (rate(sdlab_chat_delivery_lag_seconds_bucket[1m])))',
            legend: 'delivery p95',
          },
        ],
        unit: 's',
      },
      {
        title: 'Disconnects by reason and backpressure',
        description:
          'slow_consumer closes mean a send queue stayed full; draining means a graceful shutdown sent clients elsewhere.',
        expr: 'sum by (reason) (rate(sdlab_chat_disconnects_total[1m]))',
        legend: '{{reason}}',
        unit: 'ops',
      },
      {
        title: 'Stored sends: new vs duplicate',
        description:
          'A retried send (same client message id) is found stored and acked again, never stored twice.',
        expr: 'sum by (result) (rate(sdlab_chat_messages_stored_total[1m]))',
        legend: '{{result}}',
        unit: 'ops',
      },
      {
        title: 'Offline catch-up',
        description: 'Messages sent in history frames in answer to sync after a reconnect.',
        expr: 'sum(rate(sdlab_chat_synced_messages_total[1m]))',
        legend: 'synced/s',
        unit: 'ops',
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
  {
    service: 'ticket-booking',
    label: 'ticket-booking',
    telemetry: ['services/ticket-booking/src/telemetry.ts', 'services/payment-provider/src/telemetry.ts'],
    panels: [
      {
        title: 'Holds by outcome',
        description: 'held, conflict (seats taken), not_found, unavailable.',
        expr: 'sum by (outcome) (rate(sdlab_booking_holds_total[1m]))',
        legend: '{{outcome}}',
        unit: 'ops',
      },
      {
        title: 'Conflicts by layer',
        description:
          'Who refused a taken seat: the Redis lock first, the Postgres conditional update as the last word.',
        expr: 'sum by (layer) (rate(sdlab_booking_hold_conflicts_total[1m]))',
        legend: '{{layer}}',
        unit: 'ops',
      },
      {
        title: 'Purchases and compensations',
        description:
          'Purchase outcomes, and saga compensations (release, refund) when a charge fails or times out.',
        expr: 'sum by (outcome) (rate(sdlab_booking_purchases_total[1m]))',
        legend: 'purchase {{outcome}}',
        more: [
          {
            expr: 'sum by (action) (rate(sdlab_booking_compensations_total[1m]))',
            legend: 'compensation {{action}}',
          },
        ],
        unit: 'ops',
      },
      {
        title: 'Charges at the payment provider',
        description: 'Charges by outcome, and idempotent replays: a retried confirm never charges twice.',
        expr: 'sum by (outcome) (rate(sdlab_payments_charges_total[1m]))',
        legend: 'charge {{outcome}}',
        more: [
          { expr: 'sum(rate(sdlab_payments_idempotent_replays_total[1m]))', legend: 'idempotent replay' },
        ],
        unit: 'ops',
      },
      {
        title: 'Search index lag p95 and outbox backlog',
        description:
          'Outbox row committed to Elasticsearch acknowledging it (target ~1 s [004:521]); pending rows grow while ES is down.',
        expr: 'histogram_quantile(0.95, sum by (le) (rate(sdlab_booking_search_index_lag_seconds_bucket[5m])))',
        legend: 'index lag p95 (s)',
        more: [{ expr: 'max(sdlab_booking_outbox_pending)', legend: 'outbox rows pending' }],
        unit: 'short',
      },
      {
        title: 'Waiting room',
        description: 'Users still queued and admitted per second (default 1000 per 10 s).',
        expr: 'max(sdlab_booking_waiting_room_queued)',
        legend: 'queued',
        more: [{ expr: 'sum(rate(sdlab_booking_waiting_room_admitted_total[1m]))', legend: 'admitted/s' }],
        unit: 'short',
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
  more: { expr: string; legend: string }[] = [],
) {
  return {
    id,
    type: 'timeseries',
    title,
    description,
    datasource: PROMETHEUS,
    gridPos: { x, y, w: 12, h: 8 },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: [{ expr, legend }, ...more].map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: PROMETHEUS,
      expr: q.expr,
      legendFormat: q.legend,
      range: true,
    })),
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
        p.more,
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
