--[[
  Token bucket: refill by elapsed time, then take `cost` tokens if that many are there.
  The check and the take are one atomic step, so two requests can never both spend the last token
  [004:1084]. The clock is Redis's (TIME), so instances with skewed clocks agree [002:470].

  KEYS[1]  bucket hash: t = tokens (float), ts = last update (ms since epoch)
  ARGV[1]  capacity (integer >= 1)
  ARGV[2]  refill rate, tokens per second (> 0)
  ARGV[3]  cost (integer >= 0)
  ARGV[4]  force: 1 = take unconditionally, the bucket may go negative ("allow temp negatives for
           bursts" [002:464]); used by the local-cache mode to commit what it already admitted
  ARGV[5]  request id (unused here; every script takes it so callers treat them alike)

  Reply    { allowed (1|0), remaining, resetMs (until full), retryAfterMs (0 when allowed) }
           or a negative code (error-codes.ts): -1 bad argument, -2 cost exceeds capacity
  The key expires when the bucket would be full again: an idle bucket costs no memory [002:466].
]]

-- One decision at Redis time `now` (ms), on checked arguments. The batch script runs this same
-- function per check (scripts/batch.ts), so a batched decision is this code's.
local function decide(key, capacity, rate, cost, force, id, now)
  local perMs = rate / 1000

  local state = redis.call('HMGET', key, 't', 'ts')
  local tokens = tonumber(state[1]) or capacity
  local last = tonumber(state[2]) or now
  if now > last then
    tokens = math.min(capacity, tokens + (now - last) * perMs)
  else
    now = last
  end

  local allowed = 0
  local retryAfter = 0
  if force or tokens >= cost then
    allowed = 1
    tokens = tokens - cost
    if cost > 0 then
      redis.call('HSET', key, 't', tostring(tokens), 'ts', now)
      redis.call('PEXPIRE', key, math.max(1, math.ceil((capacity - tokens) / perMs)))
    end
  else
    retryAfter = math.ceil((cost - tokens) / perMs)
  end

  return allowed, math.max(0, math.floor(tokens)), math.ceil((capacity - tokens) / perMs), retryAfter
end -- decide

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
if not capacity or not rate or not cost or capacity < 1 or rate <= 0 or cost < 0 then
  return -1
end
if cost > capacity and not force then
  return -2
end
local time = redis.call('TIME')
return { decide(KEYS[1], capacity, rate, cost, force, ARGV[5], tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)) }
