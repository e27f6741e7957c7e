-- A random badge per request: GET {base}/badges/{badgeId}
--   wrk -t2 -c32 -d30s --latency -s bench/wrk/one_badge.lua http://HOST:PORT -- BASE BADGES_FILE
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
  base = args[1]
  badges = lines(args[2])
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  return wrk.format("GET", base .. "/badges/" .. badges[math.random(#badges)])
end
