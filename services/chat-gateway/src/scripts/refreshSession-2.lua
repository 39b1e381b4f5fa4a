--[[
  Heartbeat of one connection: extends its registry entry and the user's last-seen time. An
  entry that now belongs to another connection of the same device (it reconnected elsewhere) is
  left alone, and the caller learns that its connection was replaced.

  KEYS[1]  sessions hash of the user
  KEYS[2]  last-seen key of the user
  ARGV[1]  deviceId
  ARGV[2]  connectionId of the caller's socket
  ARGV[3]  the refreshed entry: "instanceId|connectionId|expiresAtMs"
  ARGV[4]  registry TTL in ms
  ARGV[5]  now, ms since epoch
  ARGV[6]  last-seen TTL in seconds

  Reply: 1 refreshed (or re-created after it had expired), 0 replaced by another connection
]]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.match(current, '^[^|]*|([^|]*)|') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
return 1
