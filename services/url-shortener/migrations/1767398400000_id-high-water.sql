-- Up Migration

-- The ID counter's durable high-water mark: the end of the highest counter block any instance has
-- handed values out of. Redis holds the counter itself, and a Redis that comes back empty (no
-- persistence, or a failover to a replica that lagged) restarts it below values already issued;
-- an instance that finds it there reseeds it from this row. One row, enforced by the key.
--
-- Starts at 0: generated codes are scrambled with ID_SCRAMBLE_KEY, which a migration may not read,
-- so the existing links cannot tell the counter. Each instance raises it at start-up to the counter
-- it finds in Redis (src/domain/id-allocator.ts), which covers an upgrade of a running deployment.
CREATE TABLE shortener.id_high_water (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  high      bigint  NOT NULL CHECK (high >= 0)
);
INSERT INTO shortener.id_high_water (high) VALUES (0);

-- Down Migration
DROP TABLE shortener.id_high_water;
