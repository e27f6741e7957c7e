-- Award a random badge to a new user id per request: POST {base}/badges/award
--   wrk -t2 -c32 -d30s --latency -s bench/wrk/award.lua http://HOST:PORT -- \
--       BASE BADGES_FILE TOKEN NONCE
-- User ids are "7" .. NONCE (6 digits) .. thread (2) .. counter (9): 18 digits, never a
-- seeded member (those start with 1) and never the same twice, so no award is already
-- held (409). done() prints "award: s201=N s409=N other=N" summed over the threads.
local threads, next_id = {}, 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  assert(#out > 0, "no ids in " .. path)
  return out
end

function init(args)
  path = args[1] .. "/badges/award"
  badges = lines(args[2])
  auth_headers = {
    ["Authorization"] = "Bearer " .. args[3],
    ["Content-Type"] = "application/json",
  }
  nonce = tonumber(args[4])
  math.randomseed(os.time() * 1000 + tid)
  n, s201, s409, other = 0, 0, 0, 0
end

function request()
  n = n + 1
  local user = string.format("7%06d%02d%09d", nonce, tid, n)
  local body = '{"badgeId":"' .. badges[math.random(#badges)] .. '","userId":"' .. user
    .. '","reason":"wrk bench"}'
  return wrk.format("POST", path, auth_headers, body)
end

function response(status, headers, body)
  if status == 201 then
    s201 = s201 + 1
  elseif status == 409 then
    s409 = s409 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, c, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("s201")
    c = c + thread:get("s409")
    o = o + thread:get("other")
  end
  io.write(string.format("award: s201=%d s409=%d other=%d\n", a, c, o))
end
