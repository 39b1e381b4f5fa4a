--[[
  Sliding-window counter: estimate = previous window's count * the share of it still inside the
  sliding window + the current window's count [004:480]. Two integers per key, no boundary burst,
  approximate when arrivals are uneven within a window.

  KEYS[1]  hash: w = current window index, c = current count, p = previous window's count. Both
           windows live in one key, so the roll-over is atomic and the script needs one slot.
  ARGV[1]  limit (integer >= 1)
  ARGV[2]  window length, ms (integer >= 1)
  ARGV[3]  cost (integer >= 0)
  ARGV[4]  force: 1 = count unconditionally (local-cache mode commits what it admitted)
  ARGV[5]  request id (unused)

  Reply    { allowed (1|0), remaining, resetMs (until the estimate is 0), retryAfterMs }
           or a negative code: -1 bad argument, -2 cost exceeds limit
  Mirrors algorithms/sliding-window-counter.ts, whose unit tests cover the retry-after arithmetic.
]]

-- One decision at Redis time `now` (ms), on checked arguments. The batch script runs this same
-- function per check (scripts/batch.ts), so a batched decision is this code's.
local function decide(key, limit, windowMs, cost, force, id, now)
  local window = math.floor(now / windowMs)

  local state = redis.call('HMGET', key, 'w', 'c', 'p')
  local stored = tonumber(state[1])
  local current, previous = 0, 0
  if stored == window then
    current = tonumber(state[2]) or 0
    previous = tonumber(state[3]) or 0
  elseif stored == window - 1 then
    previous = tonumber(state[2]) or 0
  end

  local elapsed = (now - window * windowMs) / windowMs
  local estimate = previous * (1 - elapsed) + current

  local allowed = 0
  local retryAfter = 0
  if force or estimate + cost <= limit then
    allowed = 1
    current = current + cost
    estimate = estimate + cost
    if cost > 0 then
      if stored == window then
        -- Same window: only the count moved (each field written costs Redis a number's formatting).
        redis.call('HSET', key, 'c', current)
      else
        redis.call('HSET', key, 'w', window, 'c', current, 'p', previous)
        -- The current count weighs on the estimate until the end of the next window: an instant
        -- fixed per window, so the expiry is set once, by the window's first write.
        redis.call('PEXPIRE', key, (window + 2) * windowMs - now)
      end
    end
  else
    local at
    if current + cost <= limit and previous > 0 then
      at = (window + 1 - (limit - current - cost) / previous) * windowMs
    else
      at = (window + 2 - (limit - cost) / current) * windowMs
    end
    retryAfter = math.max(1, math.ceil(at - now))
  end

  local resetMs = 0
  if current > 0 then
    resetMs = (window + 2) * windowMs - now
  elseif previous > 0 then
    resetMs = (window + 1) * windowMs - now
  end
  return allowed, math.max(0, math.floor(limit - estimate)), resetMs, retryAfter
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
