--[[
  Joins a waiting room, keeping the user's place on every retry or refresh: the score is the
  arrival sequence, written with ZADD NX so a second join never moves the user back (plain ZADD
  would overwrite the score [004:1151]). A user already admitted is told so instead.

  KEYS[1]  queue: sorted set of waiting users, score = arrival sequence
  KEYS[2]  admitted: sorted set of admitted users, score = admission time (ms)
  KEYS[3]  sequence counter of the room
  ARGV[1]  user id
  ARGV[2]  now (ms) — only to ignore admissions older than the token lifetime
  ARGV[3]  token lifetime (ms)

  Reply    { state, value, joined }: state 1 = waiting, value = 1-based position;
           state 2 = admitted, value = admission time (ms); joined = 1 when this call added the user
]]
local user = ARGV[1]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])

local admittedAt = redis.call('ZSCORE', KEYS[2], user)
if admittedAt and tonumber(admittedAt) + ttl > now then
  return { 2, tonumber(admittedAt), 0 }
end

local joined = 0
if not redis.call('ZSCORE', KEYS[1], user) then
  local seq = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[1], 'NX', seq, user)
  joined = 1
end
return { 1, redis.call('ZRANK', KEYS[1], user) + 1, joined }
