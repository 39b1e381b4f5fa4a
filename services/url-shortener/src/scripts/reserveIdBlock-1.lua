--[[
  Reserves the next block of ID counter values, unless the counter is behind what this instance
  knows was already handed out (Redis restarted empty, or a replica that lagged took over). A
  missing counter reads as 0, which is behind any floor above 0.

  KEYS[1]  the ID counter
  ARGV[1]  block size
  ARGV[2]  floor: the highest block end this instance has recorded or seen recorded

  Reply: the block's end (the counter after INCRBY; the block is [end - size, end)),
         or -1 when the counter is below the floor (nothing changed; reseed with reseedIdCounter)
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[2]) then
  return -1
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
