--[[
  A connection closed: removes its registry entry, unless the device has since connected again
  (then the entry belongs to the newer connection and stays), and records the last-seen time.

  KEYS[1]  sessions hash of the user
  KEYS[2]  last-seen key of the user
  ARGV[1]  deviceId
  ARGV[2]  connectionId of the closed socket
  ARGV[3]  now, ms since epoch
  ARGV[4]  last-seen TTL in seconds

  Reply: 1 removed, 0 the entry was someone else's (or already gone)
]]
local removed = 0
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.match(current, '^[^|]*|([^|]*)|') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  removed = 1
end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
return removed
