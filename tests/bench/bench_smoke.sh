#!/usr/bin/env bash
# Runs bench/run once, tiny, and checks that it printed a figure for every
# case. Benchmarks are not tests: no target is judged here, only that each
# benchmark still builds, runs and measures.
set -uo pipefail
src=${ZKFENCE_SOURCE_DIR:?}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$src/bench/run" --tiny --no-build >"$out"
rc=$?
cat "$out"
[ $rc = 0 ] || { echo "bench_smoke: bench/run exited $rc"; exit 1; }
bad=0
cases=(lock.uncontended lock.uncontended.zk_ops lock.uncontended.acked lock.contended
  lock.contended.zk_ops lock.contended-procs lock.contended-procs.zk_ops lock.contended.k2
  lock.contended.k2.zk_ops lock.contended.k32 lock.contended.k32.zk_ops lock.many_locks
  lock.many_locks.rss_per_lock lock.many_locks.heap_per_lock proxy.get4k proxy.put4k.nofsync
  proxy.put4k.durable proxy.get1m proxy.put1m.nofsync proxy.get4k.p99_ms
  proxy.put4k.durable.p99_ms proxy.auth.get4k proxy.auth.put4k proxy.tls.get4k proxy.tls.put4k
  proxy.verify.holder.put4k proxy.verify.zxid.put4k proxy.rmw.k1 proxy.rmw.k8 proxy.rmw.k1.p99_ms
  recipe.rwlock.r8w1 recipe.rwlock.r8w1.writes recipe.semaphore.n4c16 recipe.election.failover_ms
  recipe.election.expiry_ms upstream.get4k upstream.put4k upstream.get1m upstream.put1m
  upstream.put1g_MBps upstream.mpu1g_MBps upstream.rss8_MiB)
# The Curator peer is built only where javac and its jars are (CMake).
if [ -x "${ZKFENCE_BIN_DIR:?}/curator_bench" ]; then
  cases+=(lock.uncontended.curator lock.uncontended.curator.zk_ops lock.uncontended.acked.vs_curator
    lock.contended.curator lock.contended.vs_curator lock.contended.curator.zk_ops
    lock.contended-procs.curator lock.contended-procs.vs_curator lock.contended.k2.curator.zk_ops
    lock.contended.k32.curator.zk_ops recipe.rwlock.r8w1.curator recipe.semaphore.n4c16.curator
    recipe.election.failover_ms.curator)
else
  echo "bench_smoke: Curator rows skipped: no $ZKFENCE_BIN_DIR/curator_bench (built where javac" \
    "and Debian's libcurator-recipes-java are installed)"
fi
for c in "${cases[@]}"; do
  line=$(awk -v c="$c" '$1 == c' "$out")
  value=$(awk '{print $2}' <<<"$line")
  verdict=$(awk '{print $6}' <<<"$line")
  # Rates must be positive; counts, sizes and latencies only numbers (the
  # heap figure is 0 under ASan, whose allocator mallinfo2 cannot see).
  min=0
  case $c in *.zk_ops | *_per_lock | *.p99_ms) min=-1 ;; esac
  if ! awk -v v="$value" -v m="$min" 'BEGIN{ exit !(v ~ /^[0-9.]+$/ && v + 0 > m) }' ||
    [ -z "$verdict" ]; then
    echo "bench_smoke: no figure for $c: '$line'"
    bad=1
  fi
done
exit $bad
