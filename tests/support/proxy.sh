# Shell helpers for test scripts that start a zkfence-proxy (sourced, not
# run): credentials for it, curl that signs, and the proxy itself.
#
#   make_credentials FILE   writes a credentials file (mode 0600) with a
#                           fresh admin key ("* admin"); sets and exports
#                           ZKP_AK and ZKP_SK to its id and secret
#   scurl ARGS...           curl signing with that key (SigV4, region
#                           us-east-1, service s3). curl 7.88 does not
#                           send x-amz-content-sha256, which the proxy (as
#                           S3) requires: UNSIGNED-PAYLOAD unless the caller
#                           gives one.

make_credentials() {
  local file=$1
  ZKP_AK=AKTEST$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
  ZKP_SK=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '# written by the test\nkey %s %s\ngrant %s * admin\n' \
    "$ZKP_AK" "$ZKP_SK" "$ZKP_AK" >"$file")
  export ZKP_AK ZKP_SK
}

scurl() {
  local sha=(-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD') a
  for a in "$@"; do
    case $a in x-amz-content-sha256:*) sha=() ;; esac
  done
  curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ZKP_AK:$ZKP_SK" "${sha[@]}" "$@"
}

# zkp_wait_healthy URL PID [SECONDS]: polls URL/_zkfence/health (open to
# anyone) until it answers (returns 0), the process PID is gone, or SECONDS
# (default 60: generous, a busy machine may start it slowly; only a failure
# waits that long) have passed (both return 1).
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
# and sets zkp_pid and zkp_url. Authentication is on, as by default: a
# fresh admin key goes to DIR/credentials (make_credentials), and is
# exported as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (with
# AWS_DEFAULT_REGION=us-east-1) for the clients the caller runs: aws cli,
# boto3, zkfence lock --fence-advance, the demo and the examples sign with
# it; scurl too. FLAGS come after, so a --config of the caller's may
# override (auth = off, for a suite about that). Returns 0 once it answers,
# else prints its log and returns 1. zkp_stop stops it (SIGTERM, and
# waits); a no-op when none runs. Callers' EXIT traps call zkp_stop.
zkp_pid=
zkp_url=
zkp_start() {
  local bin=$1 dir=$2 port
  shift 2
  port=$("${ZKFENCE_SOURCE_DIR:?}/scripts/free-port") || return 1
  make_credentials "$dir/credentials"
  export AWS_ACCESS_KEY_ID=$ZKP_AK AWS_SECRET_ACCESS_KEY=$ZKP_SK AWS_DEFAULT_REGION=us-east-1
  printf 'credentials = %s\n' "$dir/credentials" >"$dir/auth.conf"
  "$bin" --config "$dir/auth.conf" --listen "127.0.0.1:$port" --data-dir "$dir/data" "$@" \
    >"$dir/proxy.log" 2>&1 &
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
