# Shared by the upstream-backend suites (sourced): s3rver and proxies
# started on free loopback ports and stopped by their PIDs, requests signed
# the normal way (SigV4, curl --aws-sigv4) with a key the proxies know, and
# the check helpers.
# Needs: root, dir (a fresh temp directory).
bin=${ZKFENCE_BIN_DIR:-$root/build/bin}/zkfence-proxy
AK=AKIDZKFENCETEST SK=zkfence-test-secret
# Every proxy here authenticates (auth is on by default): one admin key, the
# one the tests and clients sign with, and the one a chained proxy signs
# with towards the proxy behind it.
PCREDS=$dir/proxy.credentials
(umask 077 && printf 'key %s %s\ngrant %s * admin\n' "$AK" "$SK" "$AK" >"$PCREDS")
# pcurl ARGS...: curl signing with that key. curl 7.88 does not send
# x-amz-content-sha256, which the proxy (as S3) requires.
pcurl() {
  curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
export AK SK
export -f pcurl
proxy_pids=()
s3rver_dirs=()
failures=0

lib_cleanup() {
  local p d
  for p in "${proxy_pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for d in "${s3rver_dirs[@]}"; do "$root/scripts/s3rver" stop --data-dir "$d" >/dev/null 2>&1; done
  rm -rf "$dir"
}

ok() { echo "ok   $1"; }
fail() { # fail NAME [FILE...]
  echo "FAIL $1"; shift
  local f
  for f in "$@"; do [ -s "$f" ] && sed 's/^/     /' "$f" | head -40; done
  failures=$((failures + 1))
}
expect() { # expect NAME COMMAND...: records whether it succeeds
  local name=$1; shift
  if "$@" >"$dir/expect.out" 2>&1; then ok "$name"; else fail "$name" "$dir/expect.out" "$dir/body" "$dir/hdr"; fi
}
finish() {
  if [ $failures -eq 0 ]; then echo "all checks passed"; exit 0; fi
  echo "$failures failure(s)"
  exit 1
}

# start_s3rver NAME: s3rver on a free port; sets S3_<NAME> (its URL) and
# STORE_<NAME> (its files).
start_s3rver() {
  local name=$1 port url
  port=$("$root/scripts/free-port") || return 1
  s3rver_dirs+=("$dir/$name")
  url=$("$root/scripts/s3rver" start --port "$port" --data-dir "$dir/$name") || return 1
  printf -v "S3_$name" '%s' "$url"
  printf -v "STORE_$name" '%s' "$dir/$name/store"
}

# write_creds FILE AK SK: a credentials file of the upstream backend, 0600.
write_creds() {
  printf 'access_key = %s\nsecret_key = %s\n' "$2" "$3" >"$1"
  chmod 600 "$1"
}

# start_proxy NAME [CONFIG LINES...]: a proxy with its own data directory on
# a free port; waits for its health endpoint (20 s). Sets URL_<NAME>,
# PID_<NAME>, DATA_<NAME>.
start_proxy() {
  local name=$1 port line
  local conf=$dir/$name.conf
  shift
  port=$("$root/scripts/free-port") || return 1
  { echo "listen = 127.0.0.1:$port"; echo "data_dir = $dir/$name-data"
    echo "credentials = $PCREDS"
    for line in "$@"; do echo "$line"; done; } >"$conf"
  printf -v "URL_$name" 'http://127.0.0.1:%s' "$port"
  printf -v "DATA_$name" '%s' "$dir/$name-data"
  run_proxy "$name"
}

# run_proxy NAME: (re)starts the proxy NAME with its configuration.
run_proxy() {
  local name=$1 url pid
  url=$(eval echo "\$URL_$name")
  "$bin" --config "$dir/$name.conf" >>"$dir/$name.log" 2>&1 &
  pid=$!
  proxy_pids+=("$pid")
  printf -v "PID_$name" '%s' "$pid"
  local deadline=$((SECONDS + 20))
  until curl -sf "$url/_zkfence/health" >/dev/null; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "proxy $name did not start:"; cat "$dir/$name.log"; return 1
    fi
    sleep 0.05 # polling interval of a start-up wait with a deadline
  done
}

# sreq METHOD URL [CURL ARGS...]: a SigV4-signed request; body in
# $dir/body, headers in $dir/hdr; prints the status.
sreq() {
  local method=$1 url=$2
  shift 2
  pcurl -s -o "$dir/body" -D "$dir/hdr" -w '%{http_code}' -X "$method" "$@" "$url"
}
# fput URL FILE LOCK TOKEN: a fenced PutObject; prints the status.
fput() {
  sreq PUT "$1" -T "$2" -H "X-Fencing-Lock: $3" -H "X-Fencing-Token: $4"
}
hdr() { tr -d '\r' <"$dir/hdr" | sed -n "s/^$1: //Ip" | tail -1; }
is() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }
body_has() { grep -q -- "$1" "$dir/body" || { echo "body lacks '$1':"; cat "$dir/body"; return 1; }; }
# wait_for COMMAND...: polls (10 ms) until it succeeds, 20 s at most.
wait_for() {
  local deadline=$((SECONDS + 20))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.01 # polling interval of a wait with a deadline
  done
}
