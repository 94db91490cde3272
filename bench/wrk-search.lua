-- wrk-search.lua — replay a file of request paths against one server, round-robin.
--
--   wrk -t2 -c64 -d30s --latency -s bench/wrk-search.lua http://127.0.0.1:PORT -- PATHS [TOKEN]
--
-- PATHS: a file with one request path per line, already URL-encoded
--        (e.g. /api/search?q=%E5%AE%BD%E5%B8%A6&limit=10); or set WRK_PATHS.
-- TOKEN: sent as "Authorization: Bearer TOKEN" when given; or set WRK_TOKEN. Without one, no
--        Authorization header is sent (Groonga needs none).
-- WRK_RATE (searches/s over all connections, with WRK_CONNECTIONS): pace the load instead of
--        sending each request as soon as the last answer came. Each connection waits a random
--        (exponential) time with mean CONNECTIONS / RATE seconds before each request, so the
--        requests arrive like independent agents' (Poisson) at about RATE a second; wrk's
--        latency then measures the service at that load rather than its queue at saturation.
-- Each wrk thread starts at a different place in the file, so the threads do not ask the same
-- questions at the same time. Responses outside 200..299 are counted per thread and printed by
-- done() as "non-2xx: N of M" (bench/run.sh reads that line), with the first few statuses seen.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local file = args[1] or os.getenv("WRK_PATHS")
   local token = args[2] or os.getenv("WRK_TOKEN")
   if not file or file == "" then
      io.stderr:write("wrk-search.lua: give the paths file after --, or set WRK_PATHS\n")
      os.exit(2)
   end
   paths = {}
   local f, err = io.open(file, "r")
   if not f then
      io.stderr:write("wrk-search.lua: cannot open " .. file .. ": " .. tostring(err) .. "\n")
      os.exit(2)
   end
   for line in f:lines() do
      if line ~= "" then table.insert(paths, line) end
   end
   f:close()
   if #paths == 0 then
      io.stderr:write("wrk-search.lua: no paths in " .. file .. "\n")
      os.exit(2)
   end
   if token and token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
   -- id is set by setup(); 4 parts is enough spread for the usual 1-4 threads
   local nthreads = tonumber(os.getenv("WRK_THREADS") or "") or 4
   next_index = (math.floor(#paths / nthreads) * (id or 0)) % #paths + 1
   local rate = tonumber(os.getenv("WRK_RATE") or "")
   local conns = tonumber(os.getenv("WRK_CONNECTIONS") or "")
   if rate and rate > 0 and conns then
      mean_gap_ms = conns / rate * 1000
      math.randomseed(os.time() + (id or 0) * 7919)
   end
   responses = 0
   non2xx = 0
   statuses = ""
end

function delay()
   if not mean_gap_ms then return 0 end
   return math.floor(-math.log(1 - math.random()) * mean_gap_ms)
end

function request()
   local path = paths[next_index]
   next_index = next_index % #paths + 1
   return wrk.format("GET", path)
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if non2xx <= 5 then statuses = statuses .. " " .. status end
   end
end

function done(summary, latency, requests)
   local total, bad, seen = 0, 0, ""
   for _, thread in ipairs(threads) do
      total = total + (thread:get("responses") or 0)
      bad = bad + (thread:get("non2xx") or 0)
      seen = seen .. (thread:get("statuses") or "")
   end
   io.write(string.format("non-2xx: %d of %d\n", bad, total))
   if bad > 0 then io.write("first non-2xx statuses:" .. seen .. "\n") end
end
