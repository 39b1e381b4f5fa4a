-- wrk script: GET <url path><id> with the next line of IDS_FILE, each id once (the warm-up and the
-- measured run get a file each), so every click is a
-- first click (dedup, spool and shipper do their whole work). Used by per-core-closed-loop.sh for
-- the ingest (`/c/`) and for the bare 302 (`/bare/`), so both cost the generator the same. Running
-- out of ids is reported: after that the requests would be repeats, which skip the spool.
local ids = {}
local count = 0
local file = assert(io.open(os.getenv("IDS_FILE"), "r"), "IDS_FILE must name the ids file")
for line in file:lines() do
  count = count + 1
  ids[count] = line
end
file:close()
local next_id = 0
local prefix = wrk.path
request = function()
  next_id = next_id + 1
  return wrk.format("GET", prefix .. ids[((next_id - 1) % count) + 1])
end
done = function(summary)
  if summary.requests > count then
    io.stderr:write(string.format("click-ids.lua: %d requests for %d ids: ids were reused\n", summary.requests, count))
  end
end
