--[[
  Releases seat locks, but only those still owned by the caller: a lock that expired and was
  taken by another hold meanwhile is left alone (compare-and-delete).

  KEYS[1..N]  seat lock keys of one event (same {ev:<id>} hash tag)
  ARGV[1]     owner: the hold id

  Reply       number of keys deleted
]]
local owner = ARGV[1]
local deleted = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == owner then
    redis.call('DEL', key)
    deleted = deleted + 1
  end
end
return deleted
