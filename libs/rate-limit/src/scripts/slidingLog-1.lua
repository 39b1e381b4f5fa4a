--[[
  Sliding-window log: a sorted set of admitted units scored by time; count those within the last
  window [004:479]. Exact and free of boundary bursts; memory is one member per admitted unit,
  which is why rules cap its limit (rules.ts SLIDING_LOG_MAX_LIMIT).

  KEYS[1]  sorted set: member = <request id>:<unit>, score = admission time (ms since epoch)
  ARGV[1]  limit (integer >= 1)
  ARGV[2]  window length, ms (integer >= 1)
  ARGV[3]  cost (integer >= 0): that many members are added
  ARGV[4]  force: 1 = add unconditionally (local-cache mode commits what it admitted)
  ARGV[5]  request id, unique per call (members must be distinct; Redis's clock alone can repeat)

  Reply    { allowed (1|0), remaining, resetMs (until the newest entry leaves), retryAfterMs }
           or a negative code: -1 bad argument, -2 cost exceeds limit
]]

-- One decision at Redis time `now` (ms), on checked arguments. The batch script runs this same
-- function per check (scripts/batch.ts), so a batched decision is this code's.
local function decide(key, limit, windowMs, cost, force, id, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windowMs)
  local count = redis.call('ZCARD', key)

  if force or count + cost <= limit then
    -- In chunks: unpack() of a very long list overflows Lua's C stack.
    local unit = 1
    while unit <= cost do
      local args = {}
      local last = math.min(cost, unit + 499)
      for i = unit, last do
        args[#args + 1] = now
        args[#args + 1] = id .. ':' .. i
      end
      redis.call('ZADD', key, unpack(args))
      unit = last + 1
    end
    count = count + cost
    if cost > 0 then
      redis.call('PEXPIRE', key, windowMs)
    end
    local resetMs = 0
    if count > 0 then
      local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
      resetMs = math.max(0, tonumber(newest[2]) + windowMs - now)
    end
    return 1, math.max(0, limit - count), resetMs, 0
  end

  -- Denied: wait until the oldest (count + cost - limit) units have left the window.
  local oldestNeeded = redis.call('ZRANGE', key, count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local retryAfter = math.max(1, tonumber(oldestNeeded[2]) + windowMs - now)
  return 0, math.max(0, limit - count), math.max(0, tonumber(newest[2]) + windowMs - now), retryAfter
end -- decide

local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
local id = ARGV[5]
if not limit or not windowMs or not cost or not id or limit < 1 or windowMs < 1 or cost < 0 then
  return -1
end
if cost > limit and not force then
  return -2
end
local time = redis.call('TIME')
return { decide(KEYS[1], limit, windowMs, cost, force, id, tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)) }
