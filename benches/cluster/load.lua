-- wrk script shared by cairn and etcd, so that both are driven by the same generator.
--
-- Environment:
--   BENCH_SYS    cairn | etcd
--   BENCH_OP     write | read
--   BENCH_KEYS   number of distinct keys (default 1000); reads expect them to be preloaded
--   BENCH_VALUE  value size in bytes (default 256)
--   BENCH_MAX    responses per wrk thread after which the thread stops (default 2,000,000)
--
-- cairn: PUT /v1/kv/bench/<n> (body = value, answer `true`); GET /v1/kv/bench/<n> (default
--        consistency: leader-confirmed).
-- etcd:  POST /v3/kv/put and POST /v3/kv/range on the JSON gRPC gateway, base64 key/value;
--        range without "serializable" is a linearizable read.
--
-- Every response is checked: a 2xx whose body is not the expected kind counts as "bad".
-- done() prints one line `RESULT key=value ...` that run.sh parses.

local sys = os.getenv("BENCH_SYS") or "cairn"
local op = os.getenv("BENCH_OP") or "write"
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "1000")
local vsize = tonumber(os.getenv("BENCH_VALUE") or "256")
-- Each thread stops after this many responses (the phase is also bounded by wrk -d).
local max_per_thread = tonumber(os.getenv("BENCH_MAX") or "2000000")

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Standard base64 (RFC 4648, padded), arithmetic only.
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = alphabet:sub(c1 + 1, c1 + 1) .. alphabet:sub(c2 + 1, c2 + 1)
      .. (b and alphabet:sub(c3 + 1, c3 + 1) or "=")
      .. (c and alphabet:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

-- Deterministic printable 256-byte value.
local function value()
  local t = {}
  for i = 1, vsize do
    t[i] = string.char(97 + (i * 7) % 26)
  end
  return table.concat(t)
end

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
bad = 0
local first_bad = nil

function init(args)
  math.randomseed(id * 7919 + os.time())
  local v = value()
  local bv = b64(v)
  for n = 0, nkeys - 1 do
    local key = "bench/" .. n
    local r
    if sys == "cairn" then
      if op == "write" then
        r = wrk.format("PUT", "/v1/kv/" .. key, nil, v)
      else
        r = wrk.format("GET", "/v1/kv/" .. key, nil, nil)
      end
    else
      local h = { ["Content-Type"] = "application/json" }
      if op == "write" then
        r = wrk.format("POST", "/v3/kv/put", h,
          '{"key":"' .. b64(key) .. '","value":"' .. bv .. '"}')
      else
        r = wrk.format("POST", "/v3/kv/range", h, '{"key":"' .. b64(key) .. '"}')
      end
    end
    reqs[n + 1] = r
  end
end

function request()
  return reqs[math.random(nkeys)]
end

local function ok_body(body)
  if sys == "cairn" then
    if op == "write" then return body == "true" end
    return body:sub(1, 1) == "[" and body:find('"Value"', 1, true) ~= nil
  else
    if op == "write" then return body:find('"header"', 1, true) ~= nil end
    return body:find('"kvs"', 1, true) ~= nil
  end
end

-- The first unexpected answer (non-2xx, or 2xx with a wrong body) of each thread is kept.
local seen = 0

function response(status, headers, body)
  seen = seen + 1
  if seen >= max_per_thread then wrk.thread:stop() end
  local good_status = status >= 200 and status < 300
  if good_status and ok_body(body) then return end
  if good_status then bad = bad + 1 end
  if first_bad == nil then
    first_bad = "HTTP " .. status .. ": " .. body:sub(1, 200)
    sample = first_bad
  end
end

function done(summary, latency, requests)
  local nbad = 0
  local sample_txt = ""
  for _, t in ipairs(threads) do
    nbad = nbad + (t:get("bad") or 0)
    local s = t:get("sample")
    if s and sample_txt == "" then sample_txt = s end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d secs=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f max_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d bad=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, nbad))
  if sample_txt ~= "" then
    io.write("BADSAMPLE " .. sample_txt:gsub("\n", " ") .. "\n")
  end
end
