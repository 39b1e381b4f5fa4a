-- Raises the scores of ads in one window's top-K sorted set, if that set exists.
--
-- KEYS[1]  the window's sorted set (keys.topK)
-- ARGV[1]  TTL in seconds, refreshed on every update
-- ARGV[2..] pairs: count, ad id (counts are the totals Postgres just committed, not deltas)
-- Reply    1 when the set existed and was updated, 0 when it did not exist (nothing written)
--
-- Only a set seeded from Postgres (see seedTopK) is updated: a set created here would hold only the
-- ads flushed since, which after a Redis restart would rank a partial window as if it were whole.
-- GT keeps a total written by a slower, older flush from lowering a newer one.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local args = {}
for i = 2, #ARGV do
  args[#args + 1] = ARGV[i]
end
redis.call('ZADD', KEYS[1], 'GT', unpack(args))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
