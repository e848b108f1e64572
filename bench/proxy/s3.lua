-- wrk script for bench/run: S3-style PUT and GET, the same requests against
-- zkfence-proxy and nginx (WebDAV), so that the two are measured alike.
--
--   wrk -s bench/proxy/s3.lua URL -- MODE SIZE PREFIX KEYS [FENCED]
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
--   FENCED  1: PUTs carry X-Fencing-Lock / X-Fencing-Token
--
-- Fencing: each wrk thread writes under LOCKS locks of its own, and raises
-- its token every TOKEN_STEP requests, the way successive holders would.
-- A request still in flight with the old token can land after the first
-- one with the new token and get 412: done() reports those as rejected, and
-- bench/run counts accepted writes only.

local LOCKS = 4
local TOKEN_STEP = 4096

local threads = {}

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
   if mode ~= "put" and mode ~= "get" then
      error("s3.lua: MODE must be put or get")
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
end

function request()
   counter = counter + 1
   if mode == "get" then
      return wrk.format("GET", string.format("/%s/k%d", prefix, math.random(0, nkeys - 1)))
   end
   local key = string.format("/%s/t%d-%d", prefix, tid, nkeys > 0 and counter % nkeys or counter)
   if fenced then
      headers["X-Fencing-Lock"] = string.format("/bench/%s/t%d-l%d", prefix, tid, counter % LOCKS)
      headers["X-Fencing-Token"] = tostring(1000 + math.floor(counter / TOKEN_STEP))
   end
   return wrk.format("PUT", key, headers, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK requests=%d duration_us=%d rejected=%d socket_errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
