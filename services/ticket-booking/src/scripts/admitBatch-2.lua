--[[
  One admission tick of a waiting room: "ZPOPMIN queue:{event_id} 1000" [004:1146], recording
  each admitted user with the admission time (their access token lives 5 min from it [004:1147]).
  Admissions older than the token lifetime are dropped, so the set does not grow forever.

  KEYS[1]  queue (waiting users)
  KEYS[2]  admitted (user -> admission time ms)
  ARGV[1]  how many to admit
  ARGV[2]  now (ms)
  ARGV[3]  token lifetime (ms)

  Reply    { admitted this tick, still waiting }
]]
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl))
local popped = redis.call('ZPOPMIN', KEYS[1], n)
local admitted = 0
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[2], now, popped[i])
  admitted = admitted + 1
end
if admitted > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return { admitted, redis.call('ZCARD', KEYS[1]) }
