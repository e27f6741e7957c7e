-- Walks of every badge, page by page: each request follows a nextCursor that an earlier
-- response of this thread carried, or starts a new walk when none is waiting. A page is
-- asked for only after the page before it answered, so with -c32 there are 32 walks in
-- flight; a walk ends at the page whose nextCursor is null.
--   wrk -t2 -c32 -d30s --latency -s bench/wrk/badge_walk.lua http://HOST:PORT -- BASE [LIMIT]
-- done() prints "walk: walks=N pages=N errors=N started=N" (walks = completed walks).
local threads, next_id = {}, 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  first = args[1] .. "/badges?limit=" .. (args[2] or "100")
  queue, head, tail = {}, 1, 0 -- cursors received, not yet followed
  walks, pages, errors, started = 0, 0, 0, 0
end

function request()
  if head <= tail then
    local cursor = queue[head]
    queue[head] = nil
    head = head + 1
    return wrk.format("GET", first .. "&cursor=" .. cursor)
  end
  started = started + 1
  return wrk.format("GET", first)
end

function response(status, headers, body)
  pages = pages + 1
  if status ~= 200 then
    errors = errors + 1 -- the walk is dropped; the next request starts a new one
    return
  end
  -- nextCursor is the body's last key: search its tail only
  local at = body:find('"nextCursor":', math.max(1, #body - 600), true)
  if at == nil then
    errors = errors + 1
    return
  end
  local cursor = body:match('^"nextCursor":"([^"]+)"', at)
  if cursor then
    tail = tail + 1
    queue[tail] = cursor
  else
    walks = walks + 1
  end
end

function done(summary, latency, requests)
  local w, p, e, s = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    w = w + thread:get("walks")
    p = p + thread:get("pages")
    e = e + thread:get("errors")
    s = s + thread:get("started")
  end
  io.write(string.format("walk: walks=%d pages=%d errors=%d started=%d\n", w, p, e, s))
end
