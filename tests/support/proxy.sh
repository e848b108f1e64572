# Shell helpers for test scripts that start a zkfence-proxy (sourced, not run).

# zkp_wait_healthy URL PID [SECONDS]: polls URL/_zkfence/health until it
# answers (returns 0), the process PID is gone, or SECONDS (default 60:
# generous, a busy machine may start it slowly; only a failure waits that
# long) have passed (both return 1).
zkp_wait_healthy() {
  local url=$1 pid=$2 deadline=$((SECONDS + ${3:-60}))
  while [ $SECONDS -lt $deadline ]; do
    curl -fs --max-time 10 "$url/_zkfence/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1 # polling interval
  done
  return 1
}

# zkp_start BINARY DIR [FLAGS...]: starts the zkfence-proxy BINARY on a free
# loopback port with its data in DIR/data and its output in DIR/proxy.log,
# and sets zkp_pid and zkp_url. Returns 0 once it answers, else prints its
# log and returns 1. zkp_stop stops it (SIGTERM, and waits); a no-op when
# none runs. Callers' EXIT traps call zkp_stop.
zkp_pid=
zkp_url=
zkp_start() {
  local bin=$1 dir=$2 port
  shift 2
  port=$("${ZKFENCE_SOURCE_DIR:?}/scripts/free-port") || return 1
  "$bin" --listen "127.0.0.1:$port" --data-dir "$dir/data" "$@" >"$dir/proxy.log" 2>&1 &
  zkp_pid=$!
  zkp_url=http://127.0.0.1:$port
  zkp_wait_healthy "$zkp_url" "$zkp_pid" && return 0
  cat "$dir/proxy.log"
  return 1
}

zkp_stop() {
  [ -n "$zkp_pid" ] || return 0
  kill -TERM "$zkp_pid" 2>/dev/null && wait "$zkp_pid" 2>/dev/null
  zkp_pid=
}
