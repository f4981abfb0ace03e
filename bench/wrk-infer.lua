-- wrk script of bench/run.sh: POST a small Open Inference Protocol request.
--
-- Environment:
--   BENCH_BODY_FILE      file holding the request body (required)
--   BENCH_STICKY_HEADER  if set, each request carries this header with one of
--                        BENCH_STICKY_USERS (default 1000) values in turn, so a
--                        sticky router hashes a varying key; the requests are
--                        formatted once in init(), so request() only returns a
--                        prebuilt string and costs wrk about what a static
--                        request does.
-- Headers given with wrk -H (e.g. Authorization) are kept.
-- done() prints one machine-readable line:
--   WRK_RESULT requests=N duration_us=N errors=N
-- where errors counts connect/read/write/timeout errors and non-2xx/3xx answers.

local body_file = os.getenv("BENCH_BODY_FILE")
local f = assert(io.open(body_file or "", "rb"), "BENCH_BODY_FILE must name a readable file")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local sticky = os.getenv("BENCH_STICKY_HEADER")
local users = tonumber(os.getenv("BENCH_STICKY_USERS") or "1000")
local prebuilt = nil
local n = 0

function init(args)
  if sticky and sticky ~= "" then
    prebuilt = {}
    for i = 1, users do
      -- wrk.format replaces wrk.headers with the table it is given: copy them.
      local h = {}
      for k, v in pairs(wrk.headers) do h[k] = v end
      h[sticky] = "user-" .. i
      prebuilt[i] = wrk.format(nil, nil, h, nil)
    end
  end
end

if sticky and sticky ~= "" then
  request = function()
    n = n % users + 1
    return prebuilt[n]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT requests=%d duration_us=%d errors=%d\n",
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout))
end
