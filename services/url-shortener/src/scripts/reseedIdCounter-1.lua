--[[
  Raises the ID counter to the floor if it is missing or below it, then reserves a block. One
  script, so two instances reseeding at once agree: the second finds the counter already at or
  past its floor and only takes the next block.

  KEYS[1]  the ID counter
  ARGV[1]  block size
  ARGV[2]  floor: the high-water mark just read from Postgres (or higher)

  Reply: { end, before }  end: the block's end (the block is [end - size, end));
         before: the counter as found (false when it was missing)
]]
local before = redis.call('GET', KEYS[1])
if not before or tonumber(before) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[2])
end
return { redis.call('INCRBY', KEYS[1], ARGV[1]), before }
