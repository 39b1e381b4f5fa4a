-- The ingest's dedup for a batch of clicks: SET <key> 1 NX EX <ttl> for each impression key, in
-- order, in one call (the clicks that arrived while the previous call was in flight).
--
-- KEYS[1..n]  keys.dedup(impression) of each click, repeats allowed
-- ARGV[1]     TTL in seconds (the impression's whole life)
-- Reply       one integer per key: 1 when this call set it (a first click), 0 when it was there
--
-- A key repeated within the batch is 1 only at its first place, exactly as n separate SET NX
-- commands in this order would answer.
local first = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'EX', ARGV[1], 'NX') then
    first[i] = 1
  else
    first[i] = 0
  end
end
return first
