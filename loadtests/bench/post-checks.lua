-- wrk script: POST /v1/checks with skewed keys over 100,000 (hot keys reach their limit, as in the
-- k6 scenario). Used by per-core-closed-loop.sh; the bare handler answers the same body.
local run = tostring(os.time())
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
math.randomseed(os.time())
request = function()
  local rank = math.floor((math.random() ^ 3) * 100000)
  return wrk.format(nil, nil, nil, '{"key":"w-' .. run .. '-' .. rank .. '","rule":"free","cost":1}')
end
