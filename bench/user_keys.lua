-- wrk script of bench/run: every request carries another user's token, cycling through the
-- file named by KC_BENCH_TOKENS (one JWT a line; unset or empty: no token, as for GET /alive);
-- KC_BENCH_METHOD is GET or PUT (PUT sends a fresh-looking 64-byte key; the daemon wraps it on
-- the token and replaces the record).
--
-- KC_BENCH_CONNECTION_RATE (requests/s of each connection; run wrk with as many threads as
-- connections, so each thread paces its one connection) paces the run open-loop: a connection
-- sends on a fixed schedule of one request every 1 / rate seconds, through wrk's delay() hook,
-- the KC_BENCH_CONNECTIONS connections' schedules spread evenly over that interval (in step,
-- they would queue behind each other by design), and sends at once when it is behind (a late
-- answer does not move the schedule). wrk's own latency counts from when a request was
-- sent, so it hides the wait of a request whose send was delayed by a slow answer before it
-- (coordinated omission); the script also measures each answer from the time its request was
-- scheduled and prints that p99 as "scheduled p99 ms: X" at the end.
local tokens = {}
local index = 0
local method = os.getenv("KC_BENCH_METHOD") or "GET"
local body = nil
local rate = tonumber(os.getenv("KC_BENCH_CONNECTION_RATE") or "")
local connections = tonumber(os.getenv("KC_BENCH_CONNECTIONS") or "") or 1

local ffi = require("ffi")
ffi.cdef [[
  struct kc_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clock, struct kc_timespec* now);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("struct kc_timespec")

-- Milliseconds on the monotonic clock.
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}
function setup(thread)
  thread:set("offset", #threads)
  threads[#threads + 1] = thread
end

-- Pacing state of this thread's one connection.
local gap_ms = nil      -- between scheduled sends
local next_send = nil   -- when the next request is due
local scheduled = nil   -- when the request in flight was due
latencies = {}          -- ms from schedule to answer, read by done()

function init(args)
  local file = os.getenv("KC_BENCH_TOKENS")
  if file and file ~= "" then
    for line in io.lines(file) do
      tokens[#tokens + 1] = line
    end
  end
  -- Threads start at different users so no two ask for the same one at once.
  index = (offset or 0) * 97
  if method == "PUT" then
    body = '{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="}'
  end
  if rate and rate > 0 then
    gap_ms = 1000 / rate
  end
end

function request()
  index = index + 1
  local headers = {["Accept"] = "application/json"}
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(index % #tokens) + 1]
  end
  if body then headers["Content-Type"] = "application/json" end
  if gap_ms then
    local now = now_ms()
    if not next_send then next_send = now end
    -- delay() rounds down to wrk's millisecond timer, so a request may go out a little before
    -- it is due: then it counts from its send, never from a time it was not yet sent.
    scheduled = math.min(next_send, now)
    next_send = next_send + gap_ms
  end
  return wrk.format(method, nil, headers, body)
end

-- Only defined (wrk calls it only) when paced: the wait until this connection's next request
-- is due, in whole milliseconds (wrk's timer); the schedule stays exact, as the fraction is
-- carried in next_send.
if rate and rate > 0 then
  function delay()
    -- wrk asks before a connection's first request too: that one starts the schedule, this
    -- thread's share of the interval later than the first thread's.
    if not next_send then
      next_send = now_ms() + gap_ms * ((offset or 0) % connections) / connections
    end
    local wait = next_send - now_ms()
    if wait < 0 then return 0 end
    return math.floor(wait)
  end

  function response(status, headers, body)
    if scheduled then
      latencies[#latencies + 1] = now_ms() - scheduled
      scheduled = nil
    end
  end

  function done(summary, latency, requests)
    local all = {}
    for _, thread in ipairs(threads) do
      for _, ms in ipairs(thread:get("latencies")) do all[#all + 1] = ms end
    end
    table.sort(all)
    if #all > 0 then
      io.write(string.format("scheduled p99 ms: %.2f\n", all[math.ceil(#all * 0.99)]))
    end
  end
end
