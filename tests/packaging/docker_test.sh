#!/usr/bin/env bash
# The container files cannot be run here (no Docker engine), so check what
# can be checked: the compose file is valid and keeps its state across
# down/up (named volumes, no fixed token or worker id), .dockerignore keeps
# host build trees out of the image, the Dockerfile builds with
# scripts/setup and the same CMake commands as a developer, and its runtime
# stage installs the package of every shared library the shipped binaries
# link directly.
set -euo pipefail
src=${ZKFENCE_SOURCE_DIR:?}
bin=${ZKFENCE_BIN_DIR:?}
tmp=$(mktemp -d /tmp/zkfence-docker-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }

if command -v docker-compose >/dev/null; then
  check "docker-compose -f '$src/docker/compose.yaml' config -q" "compose file is valid"
  check "docker-compose -f '$src/docker/compose.yaml' config --services | sort | tr '\n' ' ' | grep -q 'credentials proxy setup worker zk1 zk2 zk3'" \
    "compose services: ensemble, credentials, proxy, setup, workers"
  # What the compose file must keep true across `down` and `up`, read from
  # docker-compose's own rendering of it (python3-yaml comes with it).
  docker-compose -f "$src/docker/compose.yaml" config >"$tmp/config.yaml"
  q() { python3 -c "import sys, yaml; c = yaml.safe_load(open('$tmp/config.yaml')); sys.exit(0 if ($1) else 1)"; }
  for z in zk1 zk2 zk3; do
    check "q \"any(v.startswith('$z-data:/data') for v in c['services']['$z']['volumes']) and any(v.startswith('$z-datalog:/datalog') for v in c['services']['$z']['volumes'])\"" \
      "$z keeps /data and /datalog in named volumes (tokens keep rising across down/up)"
    check "q \"'$z-data' in c['volumes'] and '$z-datalog' in c['volumes']\"" "$z's volumes are declared"
  done
  check "q \"any(v.startswith('proxy-data:') for v in c['services']['proxy']['volumes']) and 'proxy-data' in c['volumes']\"" \
    "the proxy keeps its marks in a named volume"
  check "q \"all('zkfence-creds:/var/lib/zkfence-creds' in ' '.join(c['services'][s]['volumes']) for s in ('credentials', 'proxy', 'setup', 'worker')) and 'zkfence-creds' in c['volumes']\"" \
    "the key lives in its own volume, shared by the proxy and its clients"
  check "q \"'umask 077' in c['services']['credentials']['command'][0] and 'grant' in c['services']['credentials']['command'][0]\"" \
    "the credentials service writes an owner-only credentials file"
  check "q \"'--aws-sigv4' in ' '.join(c['services']['setup']['command'])\"" \
    "setup signs its requests"
  check "q \"'--id' not in c['services']['worker']['command']\"" \
    "workers get no fixed --id (each derives its own)"
  check "q \"c['services']['worker']['command'][c['services']['worker']['command'].index('--log') + 1] == '-'\"" \
    "workers log to stdout with --log -"
  check "q \"'X-Fencing-Token: 0' not in ' '.join(c['services']['setup']['command'])\"" \
    "setup writes no fixed token (a second up would be stale)"
  check "q \"'-fsI' in ' '.join(c['services']['setup']['command']) and 'zkfence lock' in ' '.join(c['services']['setup']['command'])\"" \
    "setup creates the seat map only if absent, under the lock"
else
  echo "FAILED: docker-compose missing (scripts/setup installs it)"
  fail=1
fi

# .dockerignore: `COPY . .` must not bring host build trees (their
# CMakeCache.txt names host paths) or local run data into the image.
di=$src/.dockerignore
check "[ -f '$di' ]" ".dockerignore exists"
for pat in 'build\*/' '\*\*/CMakeCache.txt' 'demo-report/' '\.zk/' '\.git' '\*\.log'; do
  check "grep -qx '$pat' '$di'" ".dockerignore lists $(sed 's/\\//g' <<<"$pat")"
done

df=$src/docker/Dockerfile
check "grep -q '^RUN scripts/setup' '$df'" "build stage installs through scripts/setup"
check "grep -q 'cmake -S . -B build' '$df' && grep -q 'cmake --build build' '$df' && grep -q 'cmake --install build' '$df'" \
  "build stage runs the CMake build"
check "grep -q '^FROM debian:bookworm AS build' '$df' && grep -q '^FROM debian:bookworm-slim AS runtime' '$df'" \
  "multi-stage bookworm"

runtime=$(sed -n '/AS runtime/,/^COPY/p' "$df" | tr ' \\' '\n\n' | grep -E '^(lib|zlib)' || true)
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
