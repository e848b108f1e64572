#!/usr/bin/env bash
# zkfence-proxy's command line: --help, flags overriding the configuration
# file (wherever --config appears), exit 64 with a clear message for an
# unknown flag or a bad value, and the debug fault endpoint off unless
# --debug-fault-endpoint is given.
set -uo pipefail
bin=${ZKFENCE_BIN_DIR:-build/bin}/zkfence-proxy
dir=$(mktemp -d /tmp/zkfence-cmdline-test.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

failures=0
ok() { echo "ok   $1"; }
fail() { # fail NAME [FILE...]: records a failure, showing the files
  echo "FAIL $1"; shift
  for f in "$@"; do [ -s "$f" ] && sed "s/^/     /" "$f"; done
  failures=$((failures + 1))
}
expect() { # expect NAME CONDITION...: records whether the condition holds
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name" "$dir/out" "$dir/body"; fi
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# start_proxy LOG ARGS...: runs the proxy in the background and waits (with
# a deadline) until its health endpoint answers on $port.
start_proxy() {
  local log=$1; shift
  "$bin" "$@" >"$log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 20))
  until curl -sf "http://127.0.0.1:$port/_zkfence/health" >/dev/null; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 $pid 2>/dev/null; then
      echo "proxy did not start"; cat "$log"; return 1
    fi
    sleep 0.05 # polling interval of the health wait
  done
}
stop_proxy() {
  kill -TERM "$pid"
  wait "$pid"
  local st=$?
  pid=
  return $st
}
# status URL [CURL ARGS...]: the HTTP status of one request ("000": no answer).
status() {
  local url=$1; shift
  curl -s -o "$dir/body" -w '%{http_code}' "$@" "$url"
}
# wait_status WANT URL: polls until URL answers WANT, 10 s at most.
wait_status() {
  local deadline=$((SECONDS + 10))
  until [ "$(status "$2")" = "$1" ]; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.05 # polling interval
  done
}

# --- --help -------------------------------------------------------------------
"$bin" --help >"$dir/out" 2>&1
st=$?
expect "--help exits 0" test $st -eq 0
for flag in --config --listen --data-dir --debug-fault-endpoint; do
  expect "--help mentions $flag" grep -q -- "$flag" "$dir/out"
done

# --- flags override the file --------------------------------------------------
conf_port=$(free_port)
port=$(free_port)
cat >"$dir/proxy.conf" <<CONF
listen = 127.0.0.1:$conf_port
data_dir = $dir/conf-data
CONF
# The flags come first: they still win over the file read after them.
if start_proxy "$dir/out" --listen "127.0.0.1:$port" --data-dir "$dir/flag-data" \
  --config "$dir/proxy.conf"; then
  expect "--listen overrides listen: serving on the flag's port" \
    test "$(status "http://127.0.0.1:$port/_zkfence/health")" = 200
  expect "--listen overrides listen: nothing on the file's port" \
    test "$(status "http://127.0.0.1:$conf_port/_zkfence/health")" = 000
  expect "--data-dir overrides data_dir: marks in the flag's directory" \
    test -f "$dir/flag-data/marks.db"
  expect "--data-dir overrides data_dir: the file's directory untouched" \
    test ! -e "$dir/conf-data"
  expect "start-up line names the flags' values" \
    grep -q "listening on 127.0.0.1:$port, data in $dir/flag-data" "$dir/out"

  # --- the fault endpoint is off without --debug-fault-endpoint -----------------
  url=http://127.0.0.1:$port
  expect "fault endpoint off: 404" \
    test "$(status "$url/_zkfence/debug/marks-fail?on=1" -X POST)" = 404
  expect "fault endpoint off: names itself off" grep -q 'NoSuchAdminEndpoint' "$dir/body"
  expect "fault endpoint off: the store stays healthy" \
    test "$(status "$url/_zkfence/health")" = 200
  curl -s -o /dev/null -X PUT "$url/fbk"
  expect "fault endpoint off: fenced writes still work" \
    test "$(status "$url/fbk/k" -X PUT --data-binary x -H 'X-Fencing-Lock: /locks/cmd' \
      -H 'X-Fencing-Token: 1')" = 200
  expect "fault endpoint off: no ON banner" test "$(grep -c 'fault endpoint ON' "$dir/out")" = 0
  stop_proxy
  expect "clean shutdown (exit 0)" test $? -eq 0
fi

# --- and on with it ------------------------------------------------------------
port=$(free_port)
url=http://127.0.0.1:$port
if start_proxy "$dir/out" --listen "127.0.0.1:$port" --data-dir "$dir/fault-data" \
  --debug-fault-endpoint; then
  expect "fault endpoint on: says so at start-up" grep -q 'debug fault endpoint ON' "$dir/out"
  expect "fault endpoint on: switch answers 204" \
    test "$(status "$url/_zkfence/debug/marks-fail?on=1" -X POST)" = 204
  curl -s -o /dev/null -X PUT "$url/fbk"
  expect "fault endpoint on: writes fail closed" \
    test "$(status "$url/fbk/k" -X PUT --data-binary x -H 'X-Fencing-Lock: /locks/cmd' \
      -H 'X-Fencing-Token: 1')" = 503
  expect "fault endpoint on: health degraded" wait_status 503 "$url/_zkfence/health"
  status "$url/_zkfence/debug/marks-fail?on=0" -X POST >/dev/null
  expect "fault endpoint on: recovers" wait_status 200 "$url/_zkfence/health"
  stop_proxy
  expect "clean shutdown (exit 0)" test $? -eq 0
fi

# --- refused command lines: exit 64, and a message that says why ----------------
run_refused() { # run_refused NAME PATTERN ARGS...
  local name=$1 pattern=$2; shift 2
  "$bin" "$@" >"$dir/out" 2>&1
  local st=$?
  expect "$name: exit 64" test $st -eq 64
  expect "$name: message" grep -Eq -- "$pattern" "$dir/out"
}
run_refused "unknown flag" "unrecognized option '--bogus'" --bogus
run_refused "stray argument" "unexpected argument 'extra'" --data-dir "$dir/x" extra
printf 'listen = 127.0.0.1:9\nthreads = many\n' >"$dir/bad.conf"
run_refused "bad config value" "bad\.conf:2: threads: expected a number in 1\.\.4096, got 'many'" \
  --config "$dir/bad.conf"
run_refused "bad --listen value" "--listen: listen: expected ADDR:PORT, got 'nowhere'" \
  --listen nowhere
run_refused "missing config file" "$dir/none\.conf" --config "$dir/none.conf"
expect "refused command lines started nothing" test ! -e "$dir/x"

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all command-line checks passed"
