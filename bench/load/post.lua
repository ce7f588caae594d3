-- Copied from the team's internal peer-bench harness (post.lua), unchanged apart from this line.
-- wrk script: POST a JSON body, optionally paced to a constant aggregate rate, and print a
-- JSON summary line (latency percentiles in microseconds) from done().
--
-- Env (read in every wrk thread):
--   BODY_FILE        file whose bytes are the request body (required)
--   RATE_PER_THREAD  requests/s this wrk thread should send; 0 or unset = as fast as possible
-- Headers come from wrk's own -H options (Content-Type is set here).
--
-- Pacing: each thread hands out send slots 1/RATE apart; a connection that finished its previous
-- response waits for the next free slot (wrk's delay() hook, millisecond granularity). Slots that
-- pass while every connection is busy are skipped, not caught up, so when the target saturates the
-- achieved rate drops below the target (reported) and the latency stays "service time" latency,
-- i.e. this does not correct for coordinated omission the way wrk2 does. Give it enough
-- connections (-c) that some are always idle: >= 4 x rate x expected latency is plenty.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } pb_timespec;
  int clock_gettime(int clk_id, pb_timespec *tp);
]]
local ts = ffi.new("pb_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local rate = tonumber(os.getenv("RATE_PER_THREAD") or "0") or 0
if rate > 0 then
  local interval = 1000.0 / rate
  local next_slot = nil
  function delay()
    local now = now_ms()
    if next_slot == nil or next_slot < now then next_slot = now end
    local wait = next_slot - now
    next_slot = next_slot + interval
    return math.floor(wait + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_min_us":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,' ..
    '"lat_p999_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
