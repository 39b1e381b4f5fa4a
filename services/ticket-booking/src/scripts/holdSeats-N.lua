--[[
  Locks every seat of a hold, or none: the all-or-nothing step in front of the database.
  "SET lock_key unique_value NX EX 600" [003:73], for several seats at once. Checking all keys
  before setting any makes a multi-seat hold atomic: two buyers of overlapping seat sets can
  never each lock half of them (which, lock by lock, would leave both stuck with a partial set).

  KEYS[1..N]  seat lock keys of one event (same {ev:<id>} hash tag)
  ARGV[1]     owner: the hold id (the value stored in each key)
  ARGV[2]     TTL in milliseconds (the hold's lifetime)

  Reply       {} when every key was free and is now set to the owner with the TTL;
              otherwise the 1-based positions of the keys held by someone else (nothing set);
              -1 bad argument (error-codes.ts)
]]
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])
if not owner or owner == '' or not ttl or ttl < 1 or #KEYS == 0 then
  return -1
end

local taken = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current and current ~= owner then
    taken[#taken + 1] = i
  end
end
if #taken > 0 then
  return taken
end

for _, key in ipairs(KEYS) do
  redis.call('SET', key, owner, 'PX', ttl)
end
return {}
