#!/usr/bin/env bash
# Runs the double-booking demo in a small configuration against the test
# ZooKeeper ($ZKFENCE_TEST_ZK) and a zkfence-proxy started here, and checks
# that the demo's own verdict holds and that its report files exist.
set -euo pipefail
bin=${ZKFENCE_BIN_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
tmp=$(mktemp -d /tmp/zkfence-demo-test.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$("$src/scripts/free-port")
echo "bucket.demo-open.fencing = optional" >"$tmp/proxy.conf"
"$bin/zkfence-proxy" --config "$tmp/proxy.conf" --listen "127.0.0.1:$port" \
  --data-dir "$tmp/data" >"$tmp/proxy.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/_zkfence/health" >/dev/null 2>&1 && break
  sleep 0.1 # polling interval
done

"$bin/zkfence-demo" --zk "$zk" --proxy "http://127.0.0.1:$port" --workers 3 --seats 4 \
  --session-ms 1000 --out "$tmp/out" | tee "$tmp/demo.out"

fail=0
check() { if ! eval "$1"; then echo "FAILED: $2"; fail=1; else echo "ok: $2"; fi; }
check 'grep -q "verdict: as expected" "$tmp/demo.out"' "the demo's verdict"
check 'grep -q "<svg" "$tmp/out/report.html"' "report.html has the timelines"
check '[ -s "$tmp/out/report.txt" ]' "report.txt written"
check '[ -s "$tmp/out/timeline-mode4.svg" ]' "timeline SVGs written"
check 'grep -q "\"verdict\":\"rejected_stale\"" "$tmp/data/audit.log"' "the audit log has the refusal"
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
