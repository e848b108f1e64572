#!/usr/bin/env bash
# The compose file's setup and worker commands, run here without Docker:
# taken from `docker-compose config`, with the service names replaced by
# the test ZooKeeper and a zkfence-proxy started here, and the installed
# binaries by the build's. Checks what a second `docker-compose up` relies
# on: setup writes the seat map with a real token, two workers with no
# --id get distinct ids and log to stdout (--log -), and setup run again
# keeps the booked map instead of failing on a stale token.
set -euo pipefail
bin=${ZKFENCE_BIN_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
# shellcheck source=../support/proxy.sh
. "$src/tests/support/proxy.sh"
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
tmp=$(mktemp -d /tmp/zkfence-compose-test.XXXXXX)
cleanup() {
  zkp_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }
command -v docker-compose >/dev/null || { echo "FAILED: docker-compose missing (scripts/setup installs it)"; exit 1; }

zkp_start "$bin/zkfence-proxy" "$tmp" || exit 1
proxy=$zkp_url
# The credentials service's work, done by zkp_start and here: a key, the
# proxy's file, and the clients' client.env.
printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$ZKP_AK" "$ZKP_SK" >"$tmp/client.env"
lock=/zkf-test/compose-$$-$RANDOM

# The commands as compose would run them ($$ is compose's escape for $).
docker-compose -f "$src/docker/compose.yaml" config >"$tmp/config.yaml"
python3 - "$tmp/config.yaml" "$tmp" "$proxy" "$zk" "$lock" <<'EOF'
import sys, yaml
cfg, out, proxy, zk, lock = sys.argv[1:]
c = yaml.safe_load(open(cfg))
def local(s):
    return (s.replace("$$", "$").replace("http://proxy:9000", proxy)
             .replace("zk1:2181,zk2:2181,zk3:2181", zk).replace("/zkfence-demo/compose", lock)
             .replace("/var/lib/zkfence-creds/client.env", out + "/client.env"))
setup = c["services"]["setup"]
assert setup["entrypoint"] == ["/bin/sh", "-c"]
open(out + "/setup.sh", "w").write(local(setup["command"][0]))
worker = c["services"]["worker"]
# The entrypoint exports the key, then runs the command: both, as compose does.
args = [local(a) for a in worker["entrypoint"]] + [local(a) for a in worker["command"]]
open(out + "/worker.args", "w").write("\n".join(args) + "\n")
EOF
mapfile -t wargs <"$tmp/worker.args"
map_url=$proxy/demo-fenced/compose/seatmap
export PATH=$bin:$PATH # zkfence, zkfence-demo-worker, as in the image's PATH

rc=0
sh -c "$(cat "$tmp/setup.sh")" >"$tmp/setup1.out" 2>&1 || rc=$?
cat "$tmp/setup1.out"
check "[ $rc = 0 ]" "setup (first up) succeeds"
check "grep -q 'seat map written with token [1-9]' '$tmp/setup1.out'" "setup writes the map with a real token"
check "[ \$(scurl -fs '$map_url' | grep -c ' -\$') = 20 ]" "the seat map has 20 free seats"

# Two replicas of the worker service, as compose starts them.
"${wargs[@]}" >"$tmp/w1.out" 2>"$tmp/w1.err" &
w1=$!
"${wargs[@]}" >"$tmp/w2.out" 2>"$tmp/w2.err" &
w2=$!
r1=0 r2=0
wait $w1 || r1=$?
wait $w2 || r2=$?
check "[ $r1 = 0 ] && [ $r2 = 0 ]" "both workers finish cleanly ($r1, $r2)"
[ "$r1$r2" = 00 ] || cat "$tmp/w1.err" "$tmp/w2.err"
id1=$(awk 'NR == 1 {print $2}' "$tmp/w1.out")
id2=$(awk 'NR == 1 {print $2}' "$tmp/w2.out")
check "[ -n '$id1' ] && [ -n '$id2' ] && [ '$id1' != 0 ] && [ '$id1' != '$id2' ]" \
  "the workers' events reach stdout (--log -) with distinct ids ($id1, $id2)"
check "[ \$(awk -v i='$id1' '\$2 != i' '$tmp/w1.out' | wc -l) = 0 ]" "each worker logs under one id"
booked=$(cat "$tmp/w1.out" "$tmp/w2.out" | awk '$3 == "write_ok"' | wc -l)
check "[ $booked = 20 ]" "20 bookings confirmed ($booked)"
check "[ \$(cat '$tmp/w1.out' '$tmp/w2.out' | awk '\$3 == \"write_ok\" {print \$5}' | sort | uniq -d | wc -l) = 0 ]" \
  "no seat confirmed twice"
scurl -fs "$map_url" >"$tmp/map-before"
check "! grep -q ' -\$' '$tmp/map-before'" "the seat map is full"

# A fixed token 0, as setup used to write, is now stale: the lock's mark
# has risen with every booking.
st=$(scurl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Fencing-Lock: $lock" \
  -H 'X-Fencing-Token: 0' --data-binary @"$tmp/map-before" "$map_url")
check "[ $st = 412 ]" "a token-0 write is refused once workers have booked (HTTP $st)"

# Second `up`: setup runs again on the kept volumes.
rc=0
sh -c "$(cat "$tmp/setup.sh")" >"$tmp/setup2.out" 2>&1 || rc=$?
cat "$tmp/setup2.out"
check "[ $rc = 0 ]" "setup (second up) succeeds"
check "grep -q 'exists, kept' '$tmp/setup2.out'" "setup keeps the existing seat map"
check "scurl -fs '$map_url' | cmp -s - '$tmp/map-before'" "the bookings survive the second setup"

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
