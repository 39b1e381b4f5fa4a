--[[
  Reads a cache entry and its remaining lifetime in one round trip, so a hit can decide whether
  to refresh the entry early without a second command.

  KEYS[1]  the cache key
  ARGV     (none)

  Reply: { value or false, pttl }  pttl in ms; -2 when the key is missing, -1 when it has no TTL
]]
local value = redis.call('GET', KEYS[1])
return { value, redis.call('PTTL', KEYS[1]) }
