#!/usr/bin/env bash
# zkfence-proxy's command line: --help, flags overriding the configuration
# file (wherever --config appears), --credentials instead of a file, exit 64 with a clear message for an
# unknown flag or a bad value, the debug fault endpoint off unless
# --debug-fault-endpoint is given, and exit 78 for a configuration it
# refuses to run with (credentials or TLS key readable by others, no
# credentials with auth on, plain HTTP on a non-loopback address), having
# touched nothing; auth = off warns and says so in /_zkfence/health.
set -uo pipefail
bin=${ZKFENCE_BIN_DIR:-build/bin}/zkfence-proxy
# shellcheck source=../support/proxy.sh
. "$(dirname "$0")/../support/proxy.sh"
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
# status URL [CURL ARGS...]: the HTTP status of one signed request ("000":
# no answer); ustatus: the same, unsigned.
status() {
  local url=$1; shift
  scurl -s -o "$dir/body" -w '%{http_code}' "$@" "$url"
}
ustatus() {
  local url=$1; shift
  curl -s -o "$dir/body" -w '%{http_code}' "$@" "$url"
}
make_credentials "$dir/credentials"
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
for flag in --config --listen --data-dir --credentials --debug-fault-endpoint; do
  expect "--help mentions $flag" grep -q -- "$flag" "$dir/out"
done

# --- flags override the file --------------------------------------------------
conf_port=$(free_port)
port=$(free_port)
cat >"$dir/proxy.conf" <<CONF
listen = 127.0.0.1:$conf_port
data_dir = $dir/conf-data
credentials = $dir/credentials
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
    grep -q "listening on http://127.0.0.1:$port, data in $dir/flag-data" "$dir/out"

  # --- the fault endpoint is off without --debug-fault-endpoint -----------------
  url=http://127.0.0.1:$port
  expect "fault endpoint off: 404" \
    test "$(status "$url/_zkfence/debug/marks-fail?on=1" -X POST)" = 404
  expect "fault endpoint off: names itself off" grep -q 'NoSuchAdminEndpoint' "$dir/body"
  expect "fault endpoint off: the store stays healthy" \
    test "$(status "$url/_zkfence/health")" = 200
  scurl -s -o /dev/null -X PUT "$url/fbk"
  expect "fault endpoint off: fenced writes still work" \
    test "$(status "$url/fbk/k" -X PUT --data-binary x -H 'X-Fencing-Lock: /locks/cmd' \
      -H 'X-Fencing-Token: 1')" = 200
  expect "fault endpoint off: no ON banner" test "$(grep -c 'fault endpoint ON' "$dir/out")" = 0
  stop_proxy
  expect "clean shutdown (exit 0)" test $? -eq 0
fi

# --- and on with it (the credentials file given by --credentials: no --config) --
port=$(free_port)
url=http://127.0.0.1:$port
if start_proxy "$dir/out" --credentials "$dir/credentials" --listen "127.0.0.1:$port" \
  --data-dir "$dir/fault-data" --debug-fault-endpoint; then
  expect "fault endpoint on: refused to anonymous (403)" \
    test "$(ustatus "$url/_zkfence/debug/marks-fail?on=1" -X POST)" = 403
  expect "fault endpoint on: says so at start-up" grep -q 'debug fault endpoint ON' "$dir/out"
  expect "fault endpoint on: switch answers 204" \
    test "$(status "$url/_zkfence/debug/marks-fail?on=1" -X POST)" = 204
  scurl -s -o /dev/null -X PUT "$url/fbk"
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

# --- refused configurations: exit 78, a message naming the file, nothing touched --
config_refused() { # config_refused NAME PATTERN CONFIG-TEXT
  local name=$1 pattern=$2
  printf '%s\ndata_dir = %s/refused-data\n' "$3" "$dir" >"$dir/refused.conf"
  "$bin" --config "$dir/refused.conf" --listen "127.0.0.1:$(free_port)" >"$dir/out" 2>&1
  local st=$?
  expect "$name: exit 78" test $st -eq 78
  expect "$name: message" grep -Eq -- "$pattern" "$dir/out"
  expect "$name: data directory untouched" test ! -e "$dir/refused-data"
}
cp "$dir/credentials" "$dir/open-creds"
chmod 644 "$dir/open-creds"
config_refused "credentials readable by others" \
  "credentials file $dir/open-creds has mode 0644: .*owner only \(chmod 600 $dir/open-creds\)" \
  "credentials = $dir/open-creds"
chmod 660 "$dir/open-creds"
config_refused "credentials writable by the group" "open-creds has mode 0660" \
  "credentials = $dir/open-creds"
config_refused "no credentials with auth on" "auth is on but no credentials file" ""
config_refused "missing credentials file" "credentials file $dir/nope: No such file" \
  "credentials = $dir/nope"
printf 'key AKBAD tooshort\n' >"$dir/bad-creds"
chmod 600 "$dir/bad-creds"
config_refused "malformed credentials" "bad-creds:1: secret of key AKBAD" \
  "credentials = $dir/bad-creds"
printf 'credentials = %s\nlisten = 0.0.0.0:%s\n' "$dir/credentials" "$(free_port)" >"$dir/open.conf"
"$bin" --config "$dir/open.conf" --data-dir "$dir/refused-data" >"$dir/out" 2>&1
st=$?
expect "plain HTTP on 0.0.0.0: exit 78" test $st -eq 78
expect "plain HTTP on 0.0.0.0: message" grep -q "plain HTTP on a non-loopback address" "$dir/out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" \
  -out "$dir/cert.pem" -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1
chmod 640 "$dir/key.pem"
config_refused "TLS key readable by the group" "tls_key $dir/key.pem has mode 0640" \
  "credentials = $dir/credentials
tls_listen = 127.0.0.1:$(free_port)
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem"
chmod 600 "$dir/key.pem"
(umask 077 && openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -out "$dir/key-other.pem" 2>/dev/null)
config_refused "TLS key of another certificate" "is not the private key of tls_cert" \
  "credentials = $dir/credentials
tls_listen = 127.0.0.1:$(free_port)
tls_cert = $dir/cert.pem
tls_key = $dir/key-other.pem"
config_refused "TLS without a listener" "tls_cert and tls_key need tls_listen" \
  "credentials = $dir/credentials
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem"

# --- auth = off: a warning at start, and health says so ---------------------------
port=$(free_port)
url=http://127.0.0.1:$port
printf 'auth = off\n' >"$dir/off.conf"
if start_proxy "$dir/out" --config "$dir/off.conf" --listen "127.0.0.1:$port" \
  --data-dir "$dir/off-data"; then
  expect "auth = off: warning at start" grep -q "WARNING: auth = off" "$dir/out"
  expect "auth = off: health says so" \
    bash -c "curl -s $url/_zkfence/health | grep -q '\"auth\":\"off\"'"
  expect "auth = off: an unsigned write is accepted" \
    test "$(ustatus "$url/offb" -X PUT)" = 200
  stop_proxy
  expect "clean shutdown (exit 0)" test $? -eq 0
fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all command-line checks passed"
