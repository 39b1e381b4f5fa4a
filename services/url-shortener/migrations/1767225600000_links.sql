-- Up Migration

-- One row per short link. `code` is a generated 7-character Base62 code or a custom alias; the
-- primary key is the last line of defence for uniqueness (an alias that happens to look like a
-- future generated code is caught here and the create takes the next ID).
CREATE TABLE shortener.links (
  code       text        PRIMARY KEY,
  long_url   text        NOT NULL,
  is_alias   boolean     NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  CONSTRAINT links_code_shape CHECK (code ~ '^[A-Za-z0-9_-]{3,32}$'),
  CONSTRAINT links_url_length CHECK (length(long_url) BETWEEN 1 AND 2048)
);
-- The expiry sweep reads the oldest expired links first.
CREATE INDEX links_expires_at_idx ON shortener.links (expires_at) WHERE expires_at IS NOT NULL;

-- Click totals, written once per link per consumed batch (never once per redirect). A separate
-- table keeps those updates off the rows every cache miss reads.
CREATE TABLE shortener.link_stats (
  code          text        PRIMARY KEY,
  total_clicks  bigint      NOT NULL CHECK (total_clicks >= 0),
  last_click_at timestamptz
);

-- Where the stats consumer is in each partition, committed in the same transaction as the
-- totals: a batch redelivered after a crash is recognised and not counted twice.
CREATE TABLE shortener.stats_offsets (
  topic       text    NOT NULL,
  partition   integer NOT NULL,
  next_offset bigint  NOT NULL,
  PRIMARY KEY (topic, partition)
);

-- The first result of a create per Idempotency-Key, written in the create's own transaction.
CREATE TABLE shortener.idempotency_keys (
  key          text        PRIMARY KEY,
  request_hash text        NOT NULL,
  response     jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expires_at_idx ON shortener.idempotency_keys (expires_at);

-- Down Migration
DROP TABLE shortener.idempotency_keys;
DROP TABLE shortener.stats_offsets;
DROP TABLE shortener.link_stats;
DROP TABLE shortener.links;
