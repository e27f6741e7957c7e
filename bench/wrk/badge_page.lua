-- The first page of 100 badges with their holder counts: GET {base}/badges?limit=100
--   wrk -t2 -c32 -d30s --latency -s bench/wrk/badge_page.lua http://HOST:PORT -- BASE [LIMIT]
function init(args)
  path = args[1] .. "/badges?limit=" .. (args[2] or "100")
end

function request()
  return wrk.format("GET", path)
end
