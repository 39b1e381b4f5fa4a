--[[
  Registers a device's connection in the registry (a new WebSocket was accepted). The newest
  connection of a device wins; the previous one, if any, is returned so its gateway can close it.
  Entries of devices whose heartbeats stopped (their gateway died) are pruned on the way.

  KEYS[1]  sessions hash of the user: deviceId -> "instanceId|connectionId|expiresAtMs"
  KEYS[2]  last-seen key of the user
  ARGV[1]  deviceId
  ARGV[2]  the new entry: "instanceId|connectionId|expiresAtMs"
  ARGV[3]  registry TTL in ms (the hash's own lifetime without heartbeats)
  ARGV[4]  now, ms since epoch
  ARGV[5]  last-seen TTL in seconds
  ARGV[6]  most live devices a user may have

  Reply: { 1, previous entry of this device or false }  registered
         { -1, false }                                  refused: the user has ARGV[6] other live devices
]]
local now = tonumber(ARGV[4])
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #entries, 2 do
  local expires = tonumber(string.match(entries[i + 1], '|(%d+)$') or '0')
  if expires <= now then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif entries[i] ~= ARGV[1] then
    live = live + 1
  end
end
if live >= tonumber(ARGV[6]) then
  return { -1, false }
end
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
return { 1, previous }
