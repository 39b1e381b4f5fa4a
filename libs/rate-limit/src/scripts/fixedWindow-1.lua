--[[
  Fixed window: one counter per window; windows are aligned to the epoch (floor(now / window)), so
  every key's windows share edges, and a client can spend the limit at the end of one window and
  again at the start of the next: the 2x boundary burst [004:478].

  KEYS[1]  counter hash: w = window index, c = units counted in it. The window index lives in the
           value, not the key name, because only the script knows Redis's time.
  ARGV[1]  limit (integer >= 1)
  ARGV[2]  window length, ms (integer >= 1)
  ARGV[3]  cost (integer >= 0)
  ARGV[4]  force: 1 = count unconditionally (local-cache mode commits what it admitted)
  ARGV[5]  request id (unused)

  Reply    { allowed (1|0), remaining, resetMs (until the window ends), retryAfterMs }
           or a negative code: -1 bad argument, -2 cost exceeds limit
]]

-- One decision at Redis time `now` (ms), on checked arguments. The batch script runs this same
-- function per check (scripts/batch.ts), so a batched decision is this code's.
local function decide(key, limit, windowMs, cost, force, id, now)
  local window = math.floor(now / windowMs)
  local resetMs = (window + 1) * windowMs - now

  local state = redis.call('HMGET', key, 'w', 'c')
  local count = 0
  local sameWindow = tonumber(state[1]) == window
  if sameWindow then
    count = tonumber(state[2]) or 0
  end

  if force or count + cost <= limit then
    count = count + cost
    if cost > 0 then
      if sameWindow then
        redis.call('HSET', key, 'c', count)
      else
        redis.call('HSET', key, 'w', window, 'c', count)
        -- The key expires at the window's end, an instant fixed per window: set once, when it starts.
        redis.call('PEXPIRE', key, resetMs)
      end
    end
    return 1, math.max(0, limit - count), resetMs, 0
  end
  return 0, math.max(0, limit - count), resetMs, resetMs
end -- decide

local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
if not limit or not windowMs or not cost or limit < 1 or windowMs < 1 or cost < 0 then
  return -1
end
if cost > limit and not force then
  return -2
end
local time = redis.call('TIME')
return { decide(KEYS[1], limit, windowMs, cost, force, ARGV[5], tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)) }
