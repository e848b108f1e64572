#!/usr/bin/env bash
# What the zkfence command says when it cannot do its job, and its --json
# listing: each bad case is run for real, and its exit code and message
# checked. Against the test ZooKeeper ($ZKFENCE_TEST_ZK), and a port where
# nothing listens (a stopped ZooKeeper).
set -euo pipefail
bin=${ZKFENCE_BIN_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
zkfence=$bin/zkfence
tmp=$(mktemp -d /tmp/zkfence-cli-messages.XXXXXX)
pids=()
cleanup() {
  touch "$tmp/done"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }
run() { # run CMD...: exit status in $rc, stdout in $tmp/out, stderr in $tmp/err
  rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}
# wait_for SECONDS CONDITION: polls CONDITION until it holds or time is up
wait_for() {
  local deadline=$((SECONDS + $1))
  until eval "$2"; do
    [ $SECONDS -lt "$deadline" ] || return 1
    sleep 0.05 # polling interval
  done
}
host=${zk%%,*}
host=${host%%/*}
lock=/zkf-test/cli-messages-$$-$RANDOM

# ---- a stopped ZooKeeper: -w bounds the wait, the message names the cause
down=127.0.0.1:$("$src/scripts/free-port")
start=$SECONDS
run "$zkfence" holders -z "$down" -w 1 /x
took=$((SECONDS - start))
check "[ $rc = 69 ]" "holders against a stopped ZooKeeper exits 69 (got $rc)"
check "grep -q 'no ZooKeeper session with $down within 1.0 s' '$tmp/err'" \
  "... and names the servers and the wait: $(head -n 1 "$tmp/err")"
check "grep -q '$down: Connection refused' '$tmp/err'" "... and the cause: connection refused"
check "grep -q -- '-w SECONDS' '$tmp/err'" "... and how to change them"
# The default wait is 15 s; -w 1 (and a 1 s probe) returns well before.
check "[ $took -lt 10 ]" "holders -w 1 gives up after about a second, not 15 (${took}s)"
run "$zkfence" holders -z "$down" --wait 0.5 /x
check "[ $rc = 69 ] && grep -q 'within 0.5 s' '$tmp/err'" "holders --wait 0.5 is the long form"
run "$zkfence" lock -z "$down" -w 1 /x -- true
check "[ $rc = 69 ] && grep -q '$down: Connection refused' '$tmp/err'" \
  "lock against a stopped ZooKeeper: 69, connection refused"
run "$zkfence" holders -w soon /x
check "[ $rc = 64 ] && grep -q \"bad -w value 'soon'\" '$tmp/err'" "holders -w soon: usage error"
run "$zkfence" holders -z "$zk" relative
check "[ $rc = 64 ] && grep -q 'absolute ZooKeeper path' '$tmp/err'" "holders with a relative path: usage error"

# ---- a chroot that does not exist: named, exit 69, nothing created
missing=/zkf-test/no-such-chroot-$$-$RANDOM
run "$zkfence" holders -z "$host$missing" /x
check "[ $rc = 69 ]" "holders under a missing chroot exits 69 (got $rc)"
check "grep -q 'chroot $missing does not exist on $host' '$tmp/err'" \
  "... and says so: $(head -n 1 "$tmp/err")"
run "$zkfence" lock -z "$host$missing" -w 5 /x -- touch "$tmp/ran"
check "[ $rc = 69 ] && grep -q 'chroot $missing does not exist on $host' '$tmp/err'" \
  "lock under a missing chroot: 69, named"
check "[ ! -e '$tmp/ran' ]" "... and COMMAND did not run"
run "$zkfence" holders -z "$host" "$missing"
check "[ $rc = 0 ] && [ ! -s '$tmp/out' ]" "... and the chroot was not created"
# An existing chroot works: the lock's parents make one.
run "$zkfence" lock -z "$host" "$lock/root/x" -- true
run "$zkfence" holders -z "$host$lock/root" /x
check "[ $rc = 0 ]" "holders under an existing chroot exits 0 ($(cat "$tmp/err"))"

# ---- holders --json: the documented schema, for a holder and a waiter
"$zkfence" lock -z "$zk" "$lock" -- sh -c "echo \"\$ZKFENCE_TOKEN\" >'$tmp/token'; \
  while [ ! -e '$tmp/done' ]; do sleep 0.05; done" 2>"$tmp/holder.err" &
pids+=($!)
check "wait_for 60 '[ -s \"$tmp/token\" ]'" "a holder runs"
"$zkfence" lock -z "$zk" "$lock" -- true 2>"$tmp/waiter.err" &
pids+=($!)
two() { "$zkfence" holders -z "$zk" --json "$lock" >"$tmp/json" 2>/dev/null &&
  python3 -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["contenders"]) != 2)' "$tmp/json"; }
check "wait_for 60 two" "a waiter queues behind it"
check "python3 - '$tmp/json' '$lock' \"\$(cat '$tmp/token')\" <<'EOF'
import json, re, sys, time
doc = json.load(open(sys.argv[1]))
lock, token = sys.argv[2], sys.argv[3]
assert set(doc) == {'lock', 'contenders'}, doc
assert doc['lock'] == lock, doc
c = doc['contenders']
keys = {'position', 'node', 'owner', 'token', 'created_ms', 'sequence', 'holder'}
for i, x in enumerate(c):
    assert set(x) == keys, x
    assert x['position'] == i + 1, x
    assert re.fullmatch(r'lock-[0-9a-f]{32}-[0-9]{10}', x['node']), x
    assert int(x['node'].rsplit('-', 1)[1]) == x['sequence'], x
    assert re.fullmatch(r'0x[0-9a-f]+', x['owner']), x
    assert isinstance(x['token'], str) and re.fullmatch(r'[1-9][0-9]*', x['token']), x
    assert isinstance(x['created_ms'], int) and abs(x['created_ms'] / 1000 - time.time()) < 600, x
assert [x['holder'] for x in c] == [True, False], c
assert c[0]['token'] == token, (c[0], token)
assert int(c[1]['token']) > int(c[0]['token']) and c[1]['sequence'] > c[0]['sequence'], c
assert c[0]['owner'] != c[1]['owner'], c
EOF" "holders --json: lock, position, node, owner (hex), token (string, the holder's), created_ms, sequence, holder flag"
touch "$tmp/done"
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
run "$zkfence" holders -z "$zk" --json "$lock"
check "[ $rc = 0 ] && [ \"\$(cat '$tmp/out')\" = '{\"lock\":\"$lock\",\"contenders\":[]}' ]" \
  "holders --json with no contenders: an empty list"
run "$zkfence" holders -z "$zk" --json "$lock/quote\"back\\slash"
check "python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"lock\"].endswith(\"quote\\\"back\\\\slash\")' '$tmp/out'" \
  "holders --json escapes the lock path"

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
