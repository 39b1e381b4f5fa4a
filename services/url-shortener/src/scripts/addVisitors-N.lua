-- The visitors of one stats batch, for many links in one call: PFADD per key. A command per link
-- cost the worker a client-side command, timer and reply each, hundreds per batch.
-- KEYS: one HyperLogLog key per link. ARGV: per key, its number of visitor ids, then the ids.
-- Returns the number of keys whose sketch changed.
local changed = 0
local at = 1
for i = 1, #KEYS do
  local n = tonumber(ARGV[at])
  local from = at + 1
  local last = at + n
  -- unpack() is bounded by Lua's C stack: PFADD in slices of at most 1000 ids.
  while from <= last do
    local to = math.min(last, from + 999)
    changed = changed + redis.call('PFADD', KEYS[i], unpack(ARGV, from, to))
    from = to + 1
  end
  at = last + 1
end
return changed
