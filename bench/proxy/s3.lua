-- wrk script for bench/run: S3-style PUT and GET, the same requests against
-- zkfence-proxy and nginx (WebDAV), so that the two are measured alike.
--
--   wrk -s bench/proxy/s3.lua URL -- MODE SIZE PREFIX KEYS [FENCED [SIGNLIB AK SK HOST]]
--
--   MODE    put | get
--   SIZE    body bytes of a PUT
--   PREFIX  "bucket/run-prefix": every key of the run lies under it
--   KEYS    put: 0 for a new key per request, else keys per wrk thread,
--           rewritten in rotation; get: keys PREFIX/k0 .. k(KEYS-1),
--           written beforehand, read at random
--
-- bench/run gives PUTs new keys: an overwrite frees the old file's blocks,
-- and on these machines' ext4 (no journal, mounted with discard) freeing
-- blocks stalls later writes; rotating 1024 keys per thread took nginx
-- from 7,300 to 800 PUT/s, which measures the disk's discard, not a server.
--   FENCED  1: PUTs carry X-Fencing-Lock / X-Fencing-Token (below);
--           "LOCK TOKEN" (one argument): every PUT carries that lock and
--           token, a real holder's (the verify rows: the proxy checks it
--           against ZooKeeper)
--   SIGNLIB AK SK HOST: sign every request with AWS SigV4 (header form,
--           region us-east-1) as access key AK with secret SK, for the Host
--           header HOST ("127.0.0.1:PORT"): SIGNLIB is bench/wrk_sign.c's
--           shared library (LuaJIT FFI), the proxy's own SigV4 code. GETs
--           are signed once per key at start (x-amz-content-sha256 of the
--           empty body), PUTs one by one (the body's SHA-256, fencing
--           headers signed). "-" or absent: unsigned.
--
-- Fencing: each wrk thread writes under LOCKS locks of its own, and raises
-- its token every TOKEN_STEP requests, the way successive holders would.
-- A request still in flight with the old token can land after the first
-- one with the new token and get 412: done() reports those as rejected, and
-- bench/run counts accepted writes only.

local LOCKS = 4
local TOKEN_STEP = 4096
local EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local threads = {}
local ffi = require("ffi")
ffi.cdef [[
int zkb_sha256_hex(const void *data, size_t len, char *out);
int zkb_sign(const char *ak, const char *sk, const char *method, const char *path,
             const char *host, const char *payload_hash, const char *lock, const char *token,
             char *out, size_t cap);
]]
local signer, ak, sk, host
local sigbuf = ffi.new("char[4096]")

-- Adds x-amz-date, x-amz-content-sha256 and Authorization to headers.
local function sign(method, path, payload, lock, token, headers)
   if signer == nil then
      return headers
   end
   if signer.zkb_sign(ak, sk, method, path, host, payload, lock, token, sigbuf, 4096) ~= 0 then
      error("s3.lua: cannot sign " .. method .. " " .. path)
   end
   local s = ffi.string(sigbuf)
   for k, v in s:gmatch("([^\n]+)\n([^\n]+)\n?") do
      headers[k] = v
   end
   return headers
end

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   mode = args[1]
   size = tonumber(args[2])
   prefix = args[3]
   nkeys = tonumber(args[4])
   fenced = args[5] == "1"
   if args[5] ~= nil then
      fixed_lock, fixed_token = args[5]:match("^(/%S+) (%d+)$")
   end
   if mode ~= "put" and mode ~= "get" then
      error("s3.lua: MODE must be put or get")
   end
   if args[6] ~= nil and args[6] ~= "-" then
      signer = ffi.load(args[6])
      ak, sk, host = args[7], args[8], args[9]
   end
   -- Incompressible-looking bytes, different per thread.
   local parts = {}
   local x = tid * 2654435761 % 4294967296
   for i = 1, 64 do
      x = (x * 1103515245 + 12345) % 2147483648
      parts[i] = string.format("%08x", x)
   end
   local chunk = table.concat(parts)
   body = string.rep(chunk, math.ceil(size / #chunk)):sub(1, size)
   math.randomseed(tid * 7919)
   counter = 0
   headers = { ["Content-Type"] = "application/octet-stream" }
   if host ~= nil then
      headers["Host"] = host
   end
   if signer ~= nil then
      local hex = ffi.new("char[65]")
      signer.zkb_sha256_hex(body, #body, hex)
      body_sha256 = ffi.string(hex)
   end
   if mode == "get" then
      -- Every GET of the run, formatted (and signed) once.
      gets = {}
      for i = 0, nkeys - 1 do
         local path = string.format("/%s/k%d", prefix, i)
         local h = sign("GET", path, EMPTY_SHA256, nil, nil, { ["Host"] = host })
         gets[i] = wrk.format("GET", path, h)
      end
   end
end

function request()
   counter = counter + 1
   if mode == "get" then
      return gets[math.random(0, nkeys - 1)]
   end
   local key = string.format("/%s/t%d-%d", prefix, tid, nkeys > 0 and counter % nkeys or counter)
   local lock, token
   if fixed_lock ~= nil then
      lock, token = fixed_lock, fixed_token
      headers["X-Fencing-Lock"] = lock
      headers["X-Fencing-Token"] = token
   elseif fenced then
      lock = string.format("/bench/%s/t%d-l%d", prefix, tid, counter % LOCKS)
      token = tostring(1000 + math.floor(counter / TOKEN_STEP))
      headers["X-Fencing-Lock"] = lock
      headers["X-Fencing-Token"] = token
   end
   return wrk.format("PUT", key, sign("PUT", key, body_sha256, lock, token, headers), body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK requests=%d duration_us=%d rejected=%d socket_errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
