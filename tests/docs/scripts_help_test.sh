#!/usr/bin/env bash
# The scripts a newcomer runs first: `--help` prints the script's comment
# block as help (no '#' marks, no code) and does nothing else (nothing
# installed, built or started: the output says so, and it returns at once),
# and an unknown option exits 64 naming it, before doing anything.
set -uo pipefail
src=${ZKFENCE_SOURCE_DIR:?}
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }
tmp=$(mktemp -d /tmp/zkfence-scripts-help.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Anything that would mean work was started.
work='setup: all|setup: installing|== \[|Get:[0-9]|Building|ZooKeeper at|demo: building|built in|installing'
for s in setup test demo zk; do
  script=$src/scripts/$s
  rc=0
  "$script" --help >"$tmp/out" 2>&1 || rc=$?
  check "[ $rc = 0 ]" "scripts/$s --help exits 0"
  check "[ \$(wc -l <'$tmp/out') -ge 3 ]" "scripts/$s --help prints a help text ($(head -n 1 "$tmp/out"))"
  check "! grep -q '^#\\|^set -\\|^cd \\|\\\$0' '$tmp/out'" "scripts/$s --help: no raw '#' marks, no code"
  check "[ \"\$(head -n 1 '$tmp/out')\" = \"\$(sed -n 2p '$script' | sed 's/^# //')\" ]" \
    "scripts/$s --help starts with the script's comment block"
  check "! grep -Eq '$work' '$tmp/out'" "scripts/$s --help does nothing else"
  rc=0
  "$script" --no-such-option >"$tmp/out" 2>&1 || rc=$?
  check "[ $rc = 64 ] && grep -q -- '--no-such-option' '$tmp/out'" \
    "scripts/$s --no-such-option exits 64 and names it (got $rc: $(head -n 1 "$tmp/out"))"
  check "! grep -Eq '$work' '$tmp/out'" "scripts/$s --no-such-option does nothing"
done
# scripts/test --help lists the phases and how to run one.
"$src/scripts/test" --help >"$tmp/out" 2>&1
for p in format plain asan valgrind fuzz --only --quick; do
  check "grep -q -- '$p' '$tmp/out'" "scripts/test --help mentions $p"
done
check "[ \$('$src/scripts/test' --only nonsense >/dev/null 2>&1; echo \$?) = 64 ]" "scripts/test --only nonsense exits 64"

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
