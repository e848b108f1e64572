#!/usr/bin/env bash
# Without any server: the option parsing of zkfence-demo and scripts/demo
# (usage errors exit 64, --help documents the options), and the demo's exit
# status on outcomes where a mode did, or did not, show what it exists to
# show. Those outcomes are written here as the workers would log them and
# fed to `zkfence-demo --replay`, which runs the same analysis and verdict
# as a live run.
set -euo pipefail
bin=${ZKFENCE_BIN_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
tmp=$(mktemp -d /tmp/zkfence-demo-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }
status() { # status CMD...: prints the exit status, output to $tmp/last.out
  local rc=0
  "$@" >"$tmp/last.out" 2>&1 || rc=$?
  echo "$rc"
}
demo=$bin/zkfence-demo

# ---- zkfence-demo: usage ----
check "[ \$(status '$demo' --help) = 0 ]" "zkfence-demo --help exits 0"
for opt in --zk --proxy --workers --seats --session-ms --process-ms --modes --mode-timeout-ms \
  --out --worker --replay; do
  check "'$demo' --help | grep -q -- '$opt'" "zkfence-demo --help documents $opt"
done
z=(--zk 127.0.0.1:1 --proxy http://127.0.0.1:1)
check "[ \$(status '$demo' ${z[*]} --modes ,) = 64 ]" "--modes , is a usage error"
check "grep -q -- '--modes' '$tmp/last.out'" "... and the message names --modes"
check "[ \$(status '$demo' ${z[*]} --modes '') = 64 ]" "--modes '' is a usage error"
check "[ \$(status '$demo' ${z[*]} --modes 1,,2) = 64 ]" "--modes 1,,2 is a usage error"
check "[ \$(status '$demo' ${z[*]} --modes 5) = 64 ]" "--modes 5 is a usage error"
check "[ \$(status '$demo' ${z[*]} --seats 0) = 64 ]" "--seats 0 is a usage error"
check "[ \$(status '$demo' ${z[*]} --seats ten) = 64 ]" "--seats ten is a usage error"
check "[ \$(status '$demo' ${z[*]} --workers 1) = 64 ]" "--workers 1 with modes 1, 3, 4 is a usage error"
check "grep -q 'need --workers 2' '$tmp/last.out'" "... and says why"
check "[ \$(status '$demo' ${z[*]} --workers 1 --modes 3) = 64 ]" "--workers 1 --modes 3 is a usage error"
check "[ \$(status '$demo' ${z[*]} --workers 65) = 64 ]" "--workers 65 is a usage error"
check "[ \$(status '$demo' ${z[*]} --bogus) = 64 ]" "an unknown option is a usage error"
check "[ \$(status '$demo' --proxy http://127.0.0.1:1) = 64 ]" "--zk is required"
check "[ \$(status '$demo' ${z[*]} extra) = 64 ]" "a stray argument is a usage error"

# ---- zkfence-demo --replay: the verdict decides the exit status ----
# Two workers, two seats. Event lines: ms worker event token seat booking status.
write_mode() { # write_mode DIR MODE SEATMAP-LINE... (events on stdin)
  local dir=$1 mode=$2
  shift 2
  mkdir -p "$dir"
  cat >"$dir/mode$mode.events"
  printf '%s\n' "$@" >"$dir/mode$mode.seatmap"
}
good=$tmp/good
write_mode "$good" 1 "seat-0 w2-1" "seat-1 w1-2" <<'EOF'
100 1 write_ok 0 0 w1-1 200
101 2 write_ok 0 0 w2-1 200
150 1 write_ok 0 1 w1-2 200
EOF
write_mode "$good" 2 "seat-0 w1-1" "seat-1 w2-1" <<'EOF'
100 1 acquired 10 -1 - 0
130 1 write_ok 10 0 w1-1 200
131 1 released 10 -1 - 0
135 2 acquired 11 -1 - 0
160 2 write_ok 11 1 w2-1 200
161 2 released 11 -1 - 0
EOF
write_mode "$good" 3 "seat-0 w1-1" "seat-1 -" <<'EOF'
100 1 acquired 20 -1 - 0
120 1 pause 20 0 - 0
2000 2 acquired 21 -1 - 0
2030 2 write_ok 21 0 w2-1 200
2031 2 released 21 -1 - 0
2040 2 acquired 22 -1 - 0
2070 2 write_ok 22 1 w2-2 200
2071 2 released 22 -1 - 0
6000 1 resume 20 0 - 0
6001 1 write_ok 20 0 w1-1 200
6002 1 released 20 -1 - 0
EOF
write_mode "$good" 4 "seat-0 w2-1" "seat-1 w2-2" <<'EOF'
100 1 acquired 30 -1 - 0
120 1 pause 30 0 - 0
2000 2 acquired 31 -1 - 0
2030 2 write_ok 31 0 w2-1 200
2031 2 released 31 -1 - 0
2040 2 acquired 32 -1 - 0
2070 2 write_ok 32 1 w2-2 200
2071 2 released 32 -1 - 0
6000 1 resume 30 0 - 0
6001 1 write_stale 30 0 w1-1 412
6002 1 lost 30 -1 - -7
EOF
replay() { # replay DIR [MODES]: the exit status of a replay of DIR
  status "$demo" --replay "$1" --workers 2 --seats 2 --modes "${2:-1,2,3,4}" --out "$1/out"
}
expected_col() { awk -F'\t' -v m="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "expected") k = i; next }
  $1 == m { print $k }' "$1/out/report.tsv"; }
check "[ \$(replay '$good') = 0 ]" "replay: all four modes as expected -> exit 0"
check "grep -q 'verdict: as expected' '$tmp/last.out'" "replay: ... and the verdict says so"
check "[ \$(replay '$good' 2,4) = 0 ]" "replay: modes 2 and 4 alone as expected -> exit 0"

# Each variant below breaks one mode; the demo must exit 1 and name it.
variant() { # variant NAME MODE SED-EXPR: a copy of the good run with one mode changed
  local d=$tmp/$1
  cp -r "$good" "$d"
  sed -i "$3" "$d/mode$2.events"
  echo "$d"
}
bad_case() { # bad_case NAME MODE SED-EXPR DESCRIPTION
  local d
  d=$(variant "$1" "$2" "$3")
  check "[ \$(replay '$d') = 1 ]" "replay: $4 -> exit 1"
  check "[ \"\$(expected_col '$d' $2)\" = no ]" "replay: ... report.tsv marks mode $2 unexpected"
}
bad_case no-race 1 's/^101 2 write_ok 0 0 w2-1/101 2 write_ok 0 1 w2-1/; /^150 /d' \
  "mode 1 without a double booking (mode 3 still shows its own)"
bad_case short 2 '/^160 2 write_ok/d' "mode 2 with one booking for two seats"
bad_case double 2 's/^160 2 write_ok 11 1/160 2 write_ok 11 0/' "mode 2 with a double booking"
bad_case no-overwrite 3 's/^6001 1 write_ok 20 0 w1-1 200/6001 1 write_failed 20 0 w1-1 500/' \
  "mode 3 whose woken write failed (mode 1 still shows its race)"
bad_case no-pause 3 '/ pause \| resume /d' "mode 3 where nobody was paused"
bad_case accepted 4 's/^6001 1 write_stale 30 0 w1-1 412/6001 1 write_ok 30 0 w1-1 200/' \
  "mode 4 whose stale write was accepted"
bad_case no-stale 4 '/write_stale/d' "mode 4 without a rejected write"
bad_case tokens 4 's/^2000 2 acquired 31/2000 2 acquired 29/' "mode 4 with the successor's token lower"
missing=$tmp/missing
cp -r "$good" "$missing"
rm "$missing/mode2.events"
check "[ \$(replay '$missing') = 1 ]" "replay: a mode without its events fails -> exit 1"
check "grep -q 'FAILED' '$missing/out/report.txt'" "replay: ... and its row says FAILED"

# ---- scripts/demo: parses its options before installing or building ----
sd=$src/scripts/demo
check "[ \$(status '$sd' --help) = 0 ]" "scripts/demo --help exits 0"
for opt in --workers --seats --session-ms --process-ms --modes --out --zk --proxy --dry-run; do
  check "'$sd' --help | grep -q -- '$opt'" "scripts/demo --help documents $opt"
done
check "[ \"\$('$sd' --help | head -n 1)\" = \"\$(sed -n 2p '$sd' | sed 's/^# //')\" ]" \
  "scripts/demo --help starts with the comment block"
check "! '$sd' --help | grep -q 'set -euo\\|^#!'" "scripts/demo --help prints the comments only"
check "[ \$(status '$sd' --bogus) = 64 ]" "scripts/demo: unknown option exits 64"
check "[ \$(status '$sd' --modes ,) = 64 ]" "scripts/demo: --modes , exits 64"
check "[ \$(status '$sd' --seats) = 64 ]" "scripts/demo: a missing value exits 64"
check "[ \$(status '$sd' --workers many) = 64 ]" "scripts/demo: a non-number exits 64"
mkdir -p "$tmp/elsewhere"
check "(cd '$tmp/elsewhere' && '$sd' --out rel --dry-run) | grep -q 'out=$tmp/elsewhere/rel '" \
  "scripts/demo: a relative --out is taken from the caller's directory"
check "'$sd' --out /abs/dir --dry-run | grep -q 'out=/abs/dir '" "scripts/demo: an absolute --out is kept"

# Bad values are refused before anything is installed, built or started:
# at once, with the option named, and by --dry-run too.
for bad in "--workers 0" "--seats 0" "--session-ms 0" "--process-ms 60001" "--workers 65" \
  "--workers 1" "--seats -1"; do
  for dry in "" --dry-run; do
    # shellcheck disable=SC2086
    check "[ \$(status '$sd' $bad $dry) = 64 ]" "scripts/demo $bad $dry exits 64"
    check "grep -q -- '${bad%% *}' '$tmp/last.out' && ! grep -q 'building\|setup:\|ZooKeeper at' '$tmp/last.out'" \
      "... naming ${bad%% *}, before setup or build: $(head -n 1 "$tmp/last.out")"
  done
done
check "[ \$(status '$sd' --out --dry-run) = 64 ]" "scripts/demo --out --dry-run: --dry-run is not a directory"
check "grep -q \"out needs a value, not the option '--dry-run'\" '$tmp/last.out'" "... and says so"
check "[ \$(status '$sd' --zk --workers 3) = 64 ]" "scripts/demo --zk --workers 3: a missing value"
check "[ \$(status '$sd' --workers 1 --modes 2 --dry-run) = 0 ]" "one worker is enough for mode 2"
check "[ ! -e '$tmp/elsewhere/--dry-run' ] && [ ! -e '$src/--dry-run' ]" "no directory named --dry-run was made"

# scripts/demo checks before the build what zkfence-demo checks after it:
# both must accept and refuse the same values (zkfence-demo --replay of a
# missing directory exits 1 once its options are fine, 64 if they are not).
agree() { # agree OPTION VALUE...
  local opt=$1 v a b
  shift
  for v in "$@"; do
    a=$(status "$sd" "$opt" "$v" --modes 2 --dry-run)
    b=$(status "$demo" --replay "$tmp/none" --out "$tmp/agree" --modes 2 "$opt" "$v")
    check "[ \$(( $a == 64 )) = \$(( $b == 64 )) ]" \
      "scripts/demo and zkfence-demo agree on $opt $v (exits $a and $b)"
  done
}
agree --workers 0 1 64 65
agree --seats 0 1 1000 1001
agree --session-ms 99 100 3600000 3600001
agree --process-ms -1 0 60000 60001

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
