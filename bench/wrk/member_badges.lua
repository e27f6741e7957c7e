-- A random seeded member's badges per request: GET {base}/badges/users/{userId}
--   wrk -t2 -c32 -d30s --latency -s bench/wrk/member_badges.lua http://HOST:PORT -- BASE MEMBERS_FILE
-- BASE is /api/v1/guilds/{guildId}; MEMBERS_FILE holds one member id per line (ids are kept
-- as strings: Discord ids exceed the 2^53 integers a Lua number holds exactly).
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
  members = lines(args[2])
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  return wrk.format("GET", base .. "/badges/users/" .. members[math.random(#members)])
end
