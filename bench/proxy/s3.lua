-- wrk script for bench/run: S3-style PUT and GET, the same requests against
-- zkfence-proxy and nginx (WebDAV), so that the two are measured alike.
--
--   wrk -s bench/proxy/s3.lua URL -- MODE SIZE PREFIX KEYS [FENCED [SIGNLIB AK SK HOST]]
--
--   MODE    put | get | get-each | fill
--   SIZE    body bytes of a PUT
--   PREFIX  "bucket/run-prefix": every key of the run lies under it. A PUT
--           PREFIX may be "DIR:TAG": its keys are then DIR/TAG-t<thread>-<n>,
--           new names in a directory that already holds others (bench/run
--           --scaling writes into the populated one, as a client would)
--   KEYS    put: 0 for a new key per request, else keys per wrk thread,
--           rewritten in rotation; get and get-each: keys PREFIX/k0 ..
--           k(KEYS-1), written beforehand, read at random; fill: "N:R:M"
--           (below)
--
-- get formats (and signs) every GET of the set once at start, when the set
-- has at most PREFORMAT_MAX keys, and each GET as it is sent above that (a
-- signed request is ~400 bytes: a million of them would cost each wrk
-- thread half a GiB and a long start); get-each always formats per request,
-- so that runs over small and large sets spend the same on signing.
--
-- fill writes the keys PREFIX/k<i>, 0 <= i < N, i % M == R, each once (under
-- FILL_LOCKS locks of its own when FENCED, one token throughout), with
-- one wrk thread (-t1; M processes side by side share the population), and
-- stops wrk (SIGINT to itself) once every one of them has been answered:
-- the fast way to give a server a large population through its own HTTP
-- front door. done() prints "FILL ok=.. failed=..": a PUT answered other
-- than 2xx is not retried (bench/run then counts the objects on disk and
-- fails). Once its keys are all sent, a thread's other connections GET a
-- missing key (404, not counted) until the last PUT is answered.
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
local PREFORMAT_MAX = 65536
local FILL_LOCKS = 64
local EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local threads = {}
local ffi = require("ffi")
ffi.cdef [[
int zkb_sha256_hex(const void *data, size_t len, char *out);
int zkb_sign(const char *ak, const char *sk, const char *method, const char *path,
             const char *host, const char *payload_hash, const char *lock, const char *token,
             char *out, size_t cap);
int getpid(void);
int kill(int pid, int sig);
]]
local SIGINT = 2
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
   fenced = args[5] == "1"
   if args[5] ~= nil then
      fixed_lock, fixed_token = args[5]:match("^(/%S+) (%d+)$")
   end
   if mode ~= "put" and mode ~= "get" and mode ~= "get-each" and mode ~= "fill" then
      error("s3.lua: MODE must be put, get, get-each or fill")
   end
   if mode == "fill" then
      local n, r, m = args[4]:match("^(%d+):(%d+):(%d+)$")
      if n == nil or tid ~= 1 then
         error("s3.lua: fill takes KEYS N:R:M and one wrk thread (-t1)")
      end
      fill_n, fill_r, fill_m = tonumber(n), tonumber(r), tonumber(m)
      fill_next = fill_r -- the next key to send
      fill_todo = 0 -- keys of this share: answered when ok + failed reach it
      for _ = fill_r, fill_n - 1, fill_m do
         fill_todo = fill_todo + 1
      end
      ok, failed = 0, 0
      nkeys = 0
      -- Defined only here: wrk parses response heads only for a script
      -- that has a response().
      response = fill_response
   else
      nkeys = tonumber(args[4])
   end
   put_dir, put_tag = prefix:match("^(.+):([^/]+)$")
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
   if mode == "get" and nkeys <= PREFORMAT_MAX then
      -- Every GET of the run, formatted (and signed) once.
      gets = {}
      for i = 0, nkeys - 1 do
         gets[i] = get_request(i)
      end
   elseif mode == "fill" then
      missing = get_request("-none")
   end
end

-- The GET of key PREFIX/k<i>, signed.
function get_request(i)
   local path = string.format("/%s/k%s", prefix, i)
   return wrk.format("GET", path, sign("GET", path, EMPTY_SHA256, nil, nil, { ["Host"] = host }))
end

function fill_response(status)
   if status == 404 then
      return -- a filler's answer
   end
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      failed = failed + 1
      failed_status = status
   end
   if ok + failed == fill_todo then
      ffi.C.kill(ffi.C.getpid(), SIGINT)
   end
end

function request()
   counter = counter + 1
   if mode == "get" or mode == "get-each" then
      local i = math.random(0, nkeys - 1)
      return gets ~= nil and gets[i] or get_request(i)
   end
   if mode == "fill" then
      if fill_next >= fill_n then
         return missing
      end
      local path = string.format("/%s/k%d", prefix, fill_next)
      -- wrk calls request() once before it starts, to check what it
      -- returns, and never sends that: the key is sent on the next call.
      if counter > 1 then
         fill_next = fill_next + fill_m
      end
      -- Fenced under locks of this process's own, each with one token for
      -- the whole fill (equal to the mark: accepted), so that no PUT can be
      -- overtaken by a higher token and refused: every key is written once.
      local lock, token
      if fenced then
         lock = string.format("/bench/%s/f%d-l%d", prefix, fill_r, counter % FILL_LOCKS)
         token = "1"
         headers["X-Fencing-Lock"] = lock
         headers["X-Fencing-Token"] = token
      end
      return wrk.format("PUT", path, sign("PUT", path, body_sha256, lock, token, headers), body)
   end
   local n = nkeys > 0 and counter % nkeys or counter
   local key
   if put_dir ~= nil then
      key = string.format("/%s/%s-t%d-%d", put_dir, put_tag, tid, n)
   else
      key = string.format("/%s/t%d-%d", prefix, tid, n)
   end
   local lock, token = fence("t" .. tid)
   return wrk.format("PUT", key, sign("PUT", key, body_sha256, lock, token, headers), body)
end

-- The lock and token of the next write (nil, nil unfenced), set in
-- headers; WRITER names the locks of this writer.
function fence(writer)
   local lock, token
   if fixed_lock ~= nil then
      lock, token = fixed_lock, fixed_token
   elseif fenced then
      lock = string.format("/bench/%s/%s-l%d", prefix, writer, counter % LOCKS)
      token = tostring(1000 + math.floor(counter / TOKEN_STEP))
   else
      return nil, nil
   end
   headers["X-Fencing-Lock"] = lock
   headers["X-Fencing-Token"] = token
   return lock, token
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK requests=%d duration_us=%d rejected=%d socket_errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99)))
   -- done() runs in wrk's main Lua state: the thread's globals via get().
   if threads[1]:get("mode") == "fill" then
      io.write(string.format("FILL ok=%d failed=%d last_failed_status=%s\n", threads[1]:get("ok"),
         threads[1]:get("failed"), tostring(threads[1]:get("failed_status"))))
   end
end
