#!/usr/bin/env bash
# Runs the double-booking demo in a small configuration against the test
# ZooKeeper ($ZKFENCE_TEST_ZK) and a zkfence-proxy started here, and checks
# each mode's own numbers in report.tsv rather than the demo's verdict: the
# race (1), exactly S bookings (2), the paused holder's double booking (3),
# its refused write and the two tokens (4). Then the report files, and two
# runs that must fail or succeed for a reason: more workers than seats (the
# pause victim is whoever holds the lock first), and a hung worker (the mode
# timeout kills it, the mode fails, nothing is left running).
set -euo pipefail
bin=${ZKFENCE_BIN_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
# shellcheck source=../support/proxy.sh
. "$src/tests/support/proxy.sh"
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
tmp=$(mktemp -d /tmp/zkfence-demo-test.XXXXXX)
cleanup() {
  zkp_stop
  # A hung fake worker the demo failed to kill would show up here.
  if [ -s "$tmp/hang/pids" ]; then
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$tmp/hang/pids"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }

echo "bucket.demo-open.fencing = optional" >"$tmp/proxy.conf"
zkp_start "$bin/zkfence-proxy" "$tmp" --config "$tmp/proxy.conf" || exit 1
proxy=$zkp_url

# The demo's own session timeout (2 s, its default), as a user runs it. A
# busy machine may still expire a waiting worker's session now and then:
# the worker then queues again with a new one, until the mode's deadline.
workers=3 seats=4
rc=0
"$bin/zkfence-demo" --zk "$zk" --proxy "$proxy" --workers $workers --seats $seats \
  --out "$tmp/out" >"$tmp/demo.out" 2>&1 || rc=$?
cat "$tmp/demo.out"
check "[ $rc = 0 ]" "the demo exits 0"

tsv=$tmp/out/report.tsv
col() { # col MODE NAME: column NAME of mode MODE's row in report.tsv
  awk -F'\t' -v m="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
    $1 == m && k { print $k }' "$tsv"
}
check "[ -s '$tsv' ] && [ \$(wc -l <'$tsv') = 5 ]" "report.tsv: a header and four modes"
for m in 1 2 3 4; do
  check "[ \"\$(col $m status)\" = ok ]" "mode $m ran to its end"
done
check "[ \$((\$(col 1 double_booked) + \$(col 1 oversold))) -gt 0 ]" \
  "mode 1: seats double-booked or oversold ($(col 1 double_booked) double, $(col 1 oversold) oversold)"
check "[ \"\$(col 2 confirmed)\" = $seats ] && [ \"\$(col 2 double_booked)\" = 0 ]" \
  "mode 2: $seats bookings confirmed, none double ($(col 2 confirmed), $(col 2 double_booked))"
check "[ \"\$(col 2 writes_accepted)\" = $seats ]" "mode 2: $seats writes accepted"
check "[ \"\$(col 3 double_booked)\" -gt 0 ]" "mode 3: double booking ($(col 3 double_booked) seats)"
check "[ \"\$(col 3 victim_write)\" = accepted ]" "mode 3: the paused holder's unfenced write was accepted"
check "[ \"\$(col 4 confirmed)\" = $seats ] && [ \"\$(col 4 double_booked)\" = 0 ]" \
  "mode 4: $seats bookings confirmed, none double ($(col 4 confirmed), $(col 4 double_booked))"
check "[ \"\$(col 4 stale_rejected)\" -ge 1 ] && [ \"\$(col 4 victim_write)\" = stale ]" \
  "mode 4: the paused holder's write rejected as stale"
# The two tokens, as the terminal report prints them, and in report.tsv.
line=$(grep '^mode 4: paused holder' "$tmp/out/report.txt" || true)
vt=$(sed -n "s/.*paused holder's token \([0-9]*\),.*/\1/p" <<<"$line")
st=$(sed -n "s/.*successor's token \([0-9]*\);.*/\1/p" <<<"$line")
check "[ -n '$vt' ] && [ -n '$st' ] && [ '$vt' -lt '$st' ]" \
  "mode 4: report.txt prints the victim's token ($vt) below its successor's ($st)"
check "[ '$vt' = \"\$(col 4 victim_token)\" ] && [ '$st' = \"\$(col 4 successor_token)\" ]" \
  "mode 4: report.tsv has the same tokens"
check "grep -q '\"verdict\":\"rejected_stale\".*\"token\":\"$vt\"\\|\"token\":\"$vt\".*\"verdict\":\"rejected_stale\"' '$tmp/data/audit.log'" \
  "the proxy's audit log has the refusal of token $vt"

# The page: self-contained, one timeline per mode, one lane per worker.
html=$tmp/out/report.html
check "[ -s '$html' ]" "report.html written"
# Nothing in the page can fetch anything: no src/href at all, no CSS url().
ext_re='(src|href)[[:space:]]*=|url\(|@import|<link|<script|<img|<iframe'
check "! grep -Eiq \"\$ext_re\" '$html'" "report.html is self-contained (no external references)"
check "[ \$(grep -c '<svg' '$html') = 4 ]" "report.html has four timelines"
for m in 1 2 3 4; do
  svg=$tmp/out/timeline-mode$m.svg
  check "[ \$(grep -c \"<g class='lane' id='m$m-lane-\" '$html') = $workers ]" \
    "report.html, mode $m: one lane per worker"
  check "[ \$(grep -c \"<g class='lane'\" '$svg') = $workers ]" "timeline-mode$m.svg: one lane per worker"
done
for m in 3 4; do
  svg=$tmp/out/timeline-mode$m.svg
  v=$(col $m victim_token) s=$(col $m successor_token)
  check "grep -q \"<text class='token'[^>]*>$v</text>\" '$svg'" "mode $m: the victim's token $v is labelled"
  check "grep -q \"<text class='token'[^>]*>$s</text>\" '$svg'" "mode $m: the successor's token $s is labelled"
done
check "grep -q '412 StaleFencingToken' '$tmp/out/timeline-mode4.svg'" "mode 4 timeline shows the 412"

# More workers than seats: a fixed victim (worker 1) might never hold the
# lock; the first holder always does.
rc=0
"$bin/zkfence-demo" --zk "$zk" --proxy "$proxy" --workers 6 --seats 1 \
  --modes 4 --out "$tmp/few" >"$tmp/few.out" 2>&1 || rc=$?
tsv=$tmp/few/report.tsv
check "[ $rc = 0 ]" "6 workers, 1 seat: mode 4 as expected"
[ $rc = 0 ] || cat "$tmp/few.out"
check "[ \"\$(col 4 victim_worker)\" -ge 1 ] && [ \"\$(col 4 stale_rejected)\" -ge 1 ]" \
  "6 workers, 1 seat: a victim (worker $(col 4 victim_worker)) paused, its write refused"

# A stopped proxy: the demo names the cause and the URL, not "HTTP -1".
down=http://127.0.0.1:$("$src/scripts/free-port")
rc=0
"$bin/zkfence-demo" --zk "$zk" --proxy "$down" --out "$tmp/down" >"$tmp/down.out" 2>&1 || rc=$?
check "[ $rc = 69 ]" "stopped proxy: the demo exits 69 (got $rc)"
check "grep -q 'no answer from the proxy at $down: .*Connection refused (PUT $down/demo-open)' '$tmp/down.out'" \
  "stopped proxy: connection refused and the URL: $(head -n 1 "$tmp/down.out")"
check "! grep -q 'HTTP -1' '$tmp/down.out'" "stopped proxy: no 'HTTP -1'"

# A hung worker: the mode times out, its workers are killed, the demo fails.
mkdir -p "$tmp/hang"
cat >"$tmp/hang/worker" <<EOF
#!/bin/sh
# Stands in for a worker that never finishes.
echo \$\$ >>"$tmp/hang/pids"
exec sleep 3600
EOF
chmod +x "$tmp/hang/worker"
start=$(date +%s)
rc=0
"$bin/zkfence-demo" --zk "$zk" --proxy "$proxy" --workers 2 --seats 1 --modes 2 \
  --mode-timeout-ms 1000 --worker "$tmp/hang/worker" --out "$tmp/hang/out" >"$tmp/hang.out" 2>&1 || rc=$?
elapsed=$(($(date +%s) - start))
tsv=$tmp/hang/out/report.tsv
check "[ $rc = 1 ]" "hung workers: the demo exits 1 (got $rc)"
# The fake workers would sleep an hour: a run that ends within a tenth of
# that (setup, a 1 s mode deadline, the kills; on a busy machine) was ended
# by the mode's deadline, not by the workers.
check "[ $elapsed -lt 360 ]" "hung workers: the demo gives up at its deadline (${elapsed}s)"
check "[ \"\$(col 2 status)\" = failed ]" "hung workers: mode 2 reported failed"
check "grep -q 'timed out' '$tmp/hang.out'" "hung workers: the demo says the mode timed out"
check "[ \$(wc -l <'$tmp/hang/pids') = 2 ]" "hung workers: both were started"
alive=0
while read -r p; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done <"$tmp/hang/pids"
check "[ $alive = 0 ]" "hung workers: none left running"

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
