-- wrk script of bench/run: every request carries another user's token, cycling through the
-- file named by KC_BENCH_TOKENS (one JWT a line); KC_BENCH_METHOD is GET or PUT (PUT sends a
-- fresh-looking 64-byte key; the daemon wraps it on the token and replaces the record).
local tokens = {}
local index = 0
local method = os.getenv("KC_BENCH_METHOD") or "GET"
local body = nil

local threadCount = 0
function setup(thread)
  thread:set("offset", threadCount)
  threadCount = threadCount + 1
end

function init(args)
  for line in io.lines(os.getenv("KC_BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  -- Threads start at different users so no two ask for the same one at once.
  index = (offset or 0) * 97
  if method == "PUT" then
    body = '{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="}'
  end
end

function request()
  index = index + 1
  local token = tokens[(index % #tokens) + 1]
  local headers = {["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json"}
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, nil, headers, body)
end
