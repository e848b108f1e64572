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
