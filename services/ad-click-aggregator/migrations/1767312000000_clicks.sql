-- Up Migration

-- Ads and where a click on them goes. The ingest reads a row once and keeps it in memory.
CREATE TABLE adclick.ads (
  ad_id       text        PRIMARY KEY,
  campaign_id text        NOT NULL,
  target_url  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ads_id_shape CHECK (ad_id ~ '^[A-Za-z0-9_-]{1,24}$' AND campaign_id ~ '^[A-Za-z0-9_-]{1,24}$'),
  CONSTRAINT ads_url_length CHECK (length(target_url) BETWEEN 1 AND 2048)
);

-- Every consumed click, counted or dead-lettered: the batch layer's input (reconciliation) and
-- the second dedup layer. Its key is the click's identity (impression + click time), so a click
-- the ingest spool sent twice (after a crash between produce and checkpoint) inserts once, and
-- the counts below are computed only from rows that were really inserted.
-- Partitioned by day of the click so old days are dropped whole (no DELETE, no bloat); the
-- aggregator creates partitions as it meets new days.
CREATE TABLE adclick.raw_clicks (
  impression_id   text        NOT NULL,
  clicked_at      timestamptz NOT NULL,
  ad_id           text        NOT NULL,
  campaign_id     text        NOT NULL,
  -- Later than the allowed lateness: sent to the dead-letter topic, never counted.
  late            boolean     NOT NULL,
  dedup           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  consumed_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (impression_id, clicked_at)
) PARTITION BY RANGE (clicked_at);
-- Reconciliation scans a time range; rows arrive roughly in time order, so a BRIN index (a few
-- pages per partition) finds the range without a B-tree's cost on every insert.
CREATE INDEX raw_clicks_clicked_at_brin ON adclick.raw_clicks USING brin (clicked_at);

-- Pre-computed roll-ups [004:844]: each flush adds to the minute, hour and day of every click,
-- so a per-ad query over 30 days reads 30 day rows, not 43,200 minute rows.
-- fillfactor leaves room on each page so the count updates are HOT (no index entry per update:
-- `clicks` is in no index).
CREATE TABLE adclick.clicks_minute (
  ad_id        text        NOT NULL,
  window_start timestamptz NOT NULL,
  clicks       bigint      NOT NULL CHECK (clicks >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ad_id, window_start)
) WITH (fillfactor = 80);
CREATE TABLE adclick.clicks_hour (LIKE adclick.clicks_minute INCLUDING ALL) WITH (fillfactor = 80);
CREATE TABLE adclick.clicks_day (LIKE adclick.clicks_minute INCLUDING ALL) WITH (fillfactor = 80);
-- Top-K of one window when Redis has no sorted set for it.
CREATE INDEX clicks_minute_window_idx ON adclick.clicks_minute (window_start);
CREATE INDEX clicks_hour_window_idx ON adclick.clicks_hour (window_start);
CREATE INDEX clicks_day_window_idx ON adclick.clicks_day (window_start);

-- The aggregator's consumed position per partition, written in the same transaction as the
-- counts it covers (the exactly-once effect). `max_event_time` is the partition's watermark
-- state, stored with the offset so a replay from here makes the same lateness decisions.
-- The row is also the fence: a flush moves it only from the offset its state was loaded at.
CREATE TABLE adclick.consumer_offsets (
  topic          text        NOT NULL,
  kafka_partition integer    NOT NULL,
  next_offset    bigint      NOT NULL CHECK (next_offset >= 0),
  max_event_time timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  updated_by     text        NOT NULL,
  PRIMARY KEY (topic, kafka_partition)
);

-- One row per reconciliation: what it compared and what it corrected.
CREATE TABLE adclick.reconciliation_runs (
  id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  period_from       timestamptz NOT NULL,
  period_to         timestamptz NOT NULL,
  windows_checked   integer     NOT NULL,
  windows_corrected integer     NOT NULL,
  max_drift         double precision NOT NULL,
  stream_clicks     bigint      NOT NULL,
  batch_clicks      bigint      NOT NULL,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE adclick.reconciliation_runs;
DROP TABLE adclick.consumer_offsets;
DROP TABLE adclick.clicks_day;
DROP TABLE adclick.clicks_hour;
DROP TABLE adclick.clicks_minute;
DROP TABLE adclick.raw_clicks;
DROP TABLE adclick.ads;
