#!/usr/bin/env bash
# Installs the build into a temporary prefix, checks what landed there, and
# builds examples/ out of tree against it both ways (CMake's find_package
# and pkg-config, shared and static), then runs the result against the test
# ZooKeeper and a zkfence-proxy from the same prefix.
set -euo pipefail
build=${ZKFENCE_BUILD_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
tmp=$(mktemp -d /tmp/zkfence-pkg-test.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
libdir=$(ls -d "$prefix"/lib* | sed -n 1p)
for f in include/zkfence/zkfence.h bin/zkfence bin/zkfence-proxy; do
  check "[ -e '$prefix/$f' ]" "installed $f"
done
check "ls '$libdir'/libzkfence.so.0* >/dev/null" "shared library with SONAME"
check "[ -e '$libdir/libzkfence.a' ]" "static library"
check "[ -e '$libdir/cmake/zkfence/zkfenceConfig.cmake' ]" "zkfenceConfig.cmake"
check "[ -e '$libdir/cmake/zkfence/zkfenceConfigVersion.cmake' ]" "version file"
check "[ -e '$libdir/pkgconfig/zkfence.pc' ]" "zkfence.pc"
check "objdump -p '$libdir/libzkfence.so' | grep -q 'SONAME *libzkfence.so.0'" "SONAME is libzkfence.so.0"
check "! nm -D --defined-only '$libdir/libzkfence.so' | awk '{print \$3}' | grep -v '^zkf_' | grep -q ." \
  "only zkf_ symbols exported"
check "'$prefix/bin/zkfence' --help | grep -q 'usage: zkfence lock'" "zkfence --help"
check "'$prefix/bin/zkfence-proxy' --help | grep -q -- '--listen'" "zkfence-proxy --help"

# CMake consumer, out of tree.
cmake -S "$src/examples" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cm.log" 2>&1 &&
  cmake --build "$tmp/cm" >>"$tmp/cm.log" 2>&1
check "[ -x '$tmp/cm/example_worker' ]" "find_package(zkfence) build" || cat "$tmp/cm.log"

# pkg-config consumer, shared and static.
export PKG_CONFIG_PATH=$libdir/pkgconfig
check "cc '$src/examples/worker.c' \$(pkg-config --cflags --libs zkfence libcurl) -Wl,-rpath,'$libdir' -o '$tmp/pc-shared'" \
  "pkg-config build (shared)"
check "cc '$src/examples/worker.c' \$(pkg-config --cflags zkfence) '$libdir/libzkfence.a' \$(pkg-config --static --libs-only-l zkfence | sed 's/-lzkfence//') \$(pkg-config --libs libcurl) -o '$tmp/pc-static'" \
  "pkg-config build (static)"
check "! ldd '$tmp/pc-static' | grep -q libzkfence" "static binary does not need libzkfence.so"

# Run them: through an installed proxy, against the test ZooKeeper.
port=$("$src/scripts/free-port")
"$prefix/bin/zkfence-proxy" --listen "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/proxy.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/_zkfence/health" >/dev/null 2>&1 && break
  sleep 0.1 # polling interval
done
curl -fs -X PUT "http://127.0.0.1:$port/examples" >/dev/null
url="http://127.0.0.1:$port/examples/report.txt"
check "LD_LIBRARY_PATH='$libdir' '$tmp/cm/example_worker' '$zk' /zkf-test/pkg '$url'" "CMake-built worker runs"
check "'$tmp/pc-shared' '$zk' /zkf-test/pkg '$url'" "pkg-config shared worker runs"
check "'$tmp/pc-static' '$zk' /zkf-test/pkg '$url'" "pkg-config static worker runs"
check "curl -fs '$url' | grep -q 'written under the lock'" "the fenced write reached storage"

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
