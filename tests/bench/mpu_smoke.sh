#!/usr/bin/env bash
# Runs bench/mpu_complete once, tiny (16 MiB), and checks that it printed
# its figures. Not a judgement of them: benchmarks are not tests.
set -uo pipefail
src=${ZKFENCE_SOURCE_DIR:?}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$src/bench/mpu_complete" --tiny --no-build >"$out"
rc=$?
cat "$out"
[ $rc = 0 ] || { echo "mpu_smoke: bench/mpu_complete exited $rc"; exit 1; }
bad=0
for c in mpu.complete_vs_rw mpu.complete_vs_cfr; do
  line=$(awk -v c="$c" '$1 == c' "$out")
  if ! awk '{ exit !($2 ~ /^[0-9.]+$/ && $2 > 0 && $3 ~ /^[0-9.]+$/ && $3 > 0) }' <<<"$line"; then
    echo "mpu_smoke: no figure for $c: '$line'"
    bad=1
  fi
done
exit $bad
