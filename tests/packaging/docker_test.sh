#!/usr/bin/env bash
# The container files cannot be run here (no Docker engine), so check what
# can be checked: the compose file is valid, the Dockerfile builds with
# scripts/setup and the same CMake commands as a developer, and its runtime
# stage installs the package of every shared library the shipped binaries
# link directly.
set -euo pipefail
src=${ZKFENCE_SOURCE_DIR:?}
bin=${ZKFENCE_BIN_DIR:?}
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }

if command -v docker-compose >/dev/null; then
  check "docker-compose -f '$src/docker/compose.yaml' config -q" "compose file is valid"
  check "docker-compose -f '$src/docker/compose.yaml' config --services | sort | tr '\n' ' ' | grep -q 'proxy setup worker zk1 zk2 zk3'" \
    "compose services: ensemble, proxy, setup, workers"
else
  echo "FAILED: docker-compose missing (scripts/setup installs it)"
  fail=1
fi

df=$src/docker/Dockerfile
check "grep -q '^RUN scripts/setup' '$df'" "build stage installs through scripts/setup"
check "grep -q 'cmake -S . -B build' '$df' && grep -q 'cmake --build build' '$df' && grep -q 'cmake --install build' '$df'" \
  "build stage runs the CMake build"
check "grep -q '^FROM debian:bookworm AS build' '$df' && grep -q '^FROM debian:bookworm-slim AS runtime' '$df'" \
  "multi-stage bookworm"

runtime=$(sed -n '/AS runtime/,/^COPY/p' "$df" | tr ' \\' '\n\n' | grep -E '^lib' || true)
for b in zkfence-proxy zkfence zkfence-demo zkfence-demo-worker ../lib/libzkfence.so; do
  for lib in $(objdump -p "$bin/$b" | awk '/NEEDED/ {print $2}'); do
    case $lib in libzkfence.so*|libc.so*|libm.so*|libpthread.so*|libdl.so*|ld-linux*) continue ;; esac
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !done {print $NF; done = 1}')  # no early exit: SIGPIPE + pipefail
    # usrmerge: dpkg knows the file under /lib or /usr/lib
    pkg=$( (dpkg -S "$path" || dpkg -S "${path#/usr}" || dpkg -S "/usr$path") 2>/dev/null |
      head -n 1 | cut -d: -f1 || true)
    check "grep -qx '$pkg' <<<'$runtime'" "runtime stage installs $pkg ($lib, needed by $b)"
  done
done
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
