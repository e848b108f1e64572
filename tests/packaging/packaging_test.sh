#!/usr/bin/env bash
# Installs the build into a temporary prefix, checks what landed there (the
# man pages render, list every option of each --help, the bash completion
# works from where it is installed, the systemd unit verifies and is
# hardened), and builds examples/ out of tree against it both ways (CMake's find_package
# and pkg-config, shared and static), then runs the result against the test
# ZooKeeper and a zkfence-proxy from the same prefix. A second, library-only
# build installs with a Debian multiarch libdir (lib/x86_64-linux-gnu), where
# the .pc file lies three levels below the prefix, and is linked through
# pkg-config and find_package too.
set -euo pipefail
build=${ZKFENCE_BUILD_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
# shellcheck source=../support/proxy.sh
. "$src/tests/support/proxy.sh"
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
tmp=$(mktemp -d /tmp/zkfence-pkg-test.XXXXXX)
cleanup() {
  zkp_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix
fail=0
# check CONDITION DESCRIPTION [LOG]: records a failure (and shows LOG, the
# output of the step that failed) without stopping, so every check runs.
check() {
  # Without pipefail: in "ldd X | grep -q Y" grep exits at its first match,
  # and a producer still writing then dies of SIGPIPE, which pipefail would
  # report as a failure (seen under parallel ctest).
  if (set +o pipefail; eval "$1"); then
    echo "ok: $2"
  else
    echo "FAILED: $2"
    fail=1
    if [ -n "${3:-}" ] && [ -f "$3" ]; then cat "$3"; fi
  fi
}

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
check "[ -e '$libdir/pkgconfig/zkfence-static.pc' ]" "zkfence-static.pc"
check "objdump -p '$libdir/libzkfence.so' | grep -q 'SONAME *libzkfence.so.0'" "SONAME is libzkfence.so.0"
check "! nm -D --defined-only '$libdir/libzkfence.so' | awk '{print \$3}' | grep -v '^zkf_' | grep -q ." \
  "only zkf_ symbols exported"
check "'$prefix/bin/zkfence' --help | grep -q 'usage: zkfence lock'" "zkfence --help"
check "'$prefix/bin/zkfence-proxy' --help | grep -q -- '--listen'" "zkfence-proxy --help"

# What a packaged tool has: man pages, completion, a systemd unit.
man1=$prefix/share/man/man1
for tool in zkfence zkfence-proxy; do
  page=$man1/$tool.1
  check "[ -e '$page' ]" "installed share/man/man1/$tool.1"
  MANWIDTH=100 man -l "$page" >"$tmp/$tool.man" 2>"$tmp/$tool.man.err" || true
  check "grep -q '^NAME' '$tmp/$tool.man' && grep -q '$tool' '$tmp/$tool.man'" \
    "man -l renders $tool.1" "$tmp/$tool.man.err"
  check "[ ! -s '$tmp/$tool.man.err' ] && [ -z \"\$(man --warnings -l '$page' 2>&1 >/dev/null)\" ]" \
    "$tool.1 renders without warnings" "$tmp/$tool.man.err"
  # The page covers the help: every option --help lists is in it.
  for opt in $("$prefix/bin/$tool" --help | grep -oE '(^|[ [,])--?[a-z][a-z-]*' | tr -d ' [,' | sort -u); do
    check "grep -q -- '$opt' '$tmp/$tool.man'" "$tool.1 documents $opt (from --help)"
  done
done
check "MANPATH='$prefix/share/man' man -w zkfence | grep -q '^$man1/zkfence.1'" "man finds zkfence under the prefix"
comp=$prefix/share/bash-completion/completions/zkfence
check "[ -e '$comp' ]" "installed share/bash-completion/completions/zkfence"
check "ZKFENCE_SOURCE_DIR='$src' bash '$src/tests/packaging/completion_test.sh' '$comp' >'$tmp/comp.log' 2>&1" \
  "the installed completion completes" "$tmp/comp.log"
unit=$prefix/lib/systemd/system/zkfence-proxy.service
check "[ -e '$unit' ]" "installed lib/systemd/system/zkfence-proxy.service"
check "grep -qx 'ExecStart=$prefix/bin/zkfence-proxy --data-dir /var/lib/zkfence-proxy --credentials \\\${CREDENTIALS_DIRECTORY}/credentials \$ZKFENCE_PROXY_ARGS' '$unit'" \
  "the unit runs the installed proxy (the install prefix, not the configured one), with its credentials"
check "grep -qx 'LoadCredential=credentials:/etc/zkfence/credentials' '$unit'" \
  "the unit hands the credentials file to its dynamic user (LoadCredential)"
for d in DynamicUser=yes StateDirectory=zkfence-proxy ProtectSystem=strict ProtectHome=yes \
  NoNewPrivileges=yes PrivateTmp=yes CapabilityBoundingSet= 'SystemCallFilter=@system-service'; do
  check "grep -qx '$d' '$unit'" "the unit is hardened: $d"
done
if command -v systemd-analyze >/dev/null; then
  # Documentation=man:zkfence-proxy(1) is looked up: the page is under the prefix.
  check "MANPATH='$prefix/share/man' systemd-analyze verify '$unit' >'$tmp/verify.log' 2>&1" \
    "systemd-analyze verify accepts the unit" "$tmp/verify.log"
  # Exposure, on systemd's 0-10 scale (10 = unprotected), at most 2.0.
  systemd-analyze security --offline=true "$unit" >"$tmp/security.log" 2>&1 || true
  check "systemd-analyze security --offline=true --threshold=20 '$unit' >/dev/null 2>&1" \
    "systemd-analyze security: $(grep -o 'exposure level for [^:]*: [0-9.]* [A-Z]*' "$tmp/security.log")" \
    "$tmp/security.log"
else
  echo "skipped: systemd-analyze verify (systemd-analyze missing; scripts/setup installs the systemd package)"
fi

# The version file: before 1.0 only the same major.minor is compatible.
version=$(sed -n 's/^Version: //p' "$libdir/pkgconfig/zkfence.pc")
major=${version%%.*} rest=${version#*.} minor=${rest%%.*}
vf=$libdir/cmake/zkfence/zkfenceConfigVersion.cmake
compat() { # compat REQUESTED: prints compatible=TRUE or FALSE, as find_package decides
  cat >"$tmp/compat.cmake" <<EOF
set(PACKAGE_FIND_VERSION "$1")
string(REPLACE "." ";" v "$1")
list(GET v 0 PACKAGE_FIND_VERSION_MAJOR)
list(GET v 1 PACKAGE_FIND_VERSION_MINOR)
list(GET v 2 PACKAGE_FIND_VERSION_PATCH)
set(PACKAGE_FIND_VERSION_COUNT 3)
include("$vf")
message("compatible=\${PACKAGE_VERSION_COMPATIBLE}")
EOF
  cmake -P "$tmp/compat.cmake" 2>&1
}
check "compat '$major.$minor.0' | grep -q compatible=TRUE" "version $version satisfies find_package(zkfence $major.$minor)"
if [ "$major" = 0 ] && [ "$minor" -gt 0 ]; then
  # SameMajorVersion would accept this; 0.x minors may break the API.
  check "compat '0.$((minor - 1)).0' | grep -q compatible=FALSE" \
    "0.x: find_package(zkfence 0.$((minor - 1))) is not satisfied by $version"
fi

# CMake consumer, out of tree.
{ cmake -S "$src/examples" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" &&
  cmake --build "$tmp/cm"; } >"$tmp/cm.log" 2>&1 || true
check "[ -x '$tmp/cm/example_worker' ]" "find_package(zkfence) build" "$tmp/cm.log"

# pkg-config consumer, shared and static: the commands the README gives.
export PKG_CONFIG_PATH=$libdir/pkgconfig
check "cc '$src/examples/worker.c' \$(pkg-config --cflags --libs zkfence libcurl) -Wl,-rpath,'$libdir' -o '$tmp/pc-shared' 2>'$tmp/pc-shared.log'" \
  "pkg-config build (shared)" "$tmp/pc-shared.log"
check "cc '$src/examples/worker.c' \$(pkg-config --cflags --libs zkfence-static libcurl) -o '$tmp/pc-static' 2>'$tmp/pc-static.log'" \
  "pkg-config build (static, zkfence-static.pc)" "$tmp/pc-static.log"
check "[ -x '$tmp/pc-static' ] && ! ldd '$tmp/pc-static' | grep -q libzkfence" \
  "static binary does not need libzkfence.so"

# Multiarch libdir: a library-only build of the same sources, installed
# into a second prefix. The .pc files must find that prefix from three
# levels down, not two.
ma=$tmp/multiarch
cc_path=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
{ cmake -S "$src" -B "$tmp/ma-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc_path" \
  -DZKF_BUILD_TESTS=OFF -DZKF_BUILD_PROXY=OFF -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu &&
  cmake --build "$tmp/ma-build" --target zkfence zkfence_static -j 2 &&
  cmake --install "$tmp/ma-build/recipes" --prefix "$ma"; } >"$tmp/ma.log" 2>&1 || true
malib=$ma/lib/x86_64-linux-gnu
check "[ -e '$malib/pkgconfig/zkfence.pc' ] && [ -e '$malib/libzkfence.so' ]" \
  "multiarch install: lib/x86_64-linux-gnu" "$tmp/ma.log"
pcm() { PKG_CONFIG_PATH=$malib/pkgconfig pkg-config "$@"; }
for pc in zkfence zkfence-static; do
  check "[ \"\$(realpath -m \"\$(pcm --variable=prefix $pc)\")\" = \"\$(realpath '$ma')\" ]" \
    "multiarch $pc.pc: prefix is the install prefix"
done
check "[ \"\$(realpath -m \"\$(pcm --variable=libdir zkfence)\")\" = \"\$(realpath '$malib')\" ]" \
  "multiarch zkfence.pc: libdir is lib/x86_64-linux-gnu under the prefix"
check "[ \"\$(realpath -m \"\$(pcm --variable=includedir zkfence)\")\" = \"\$(realpath '$ma/include')\" ]" \
  "multiarch zkfence.pc: includedir is include/ under the prefix"
check "[ -d \"\$(pcm --variable=includedir zkfence)/zkfence\" ]" "multiarch includedir holds the headers"
check "[ \"\$(realpath -m \"\$(pcm --libs-only-L zkfence | sed 's/^ *-L//; s/ *\$//')\")\" = \"\$(realpath '$malib')\" ]" \
  "multiarch --libs: -L is lib/x86_64-linux-gnu under the prefix"
check "pcm --libs zkfence-static | grep -q '^/.*/libzkfence.a ' && [ \"\$(realpath -m \"\$(pcm --libs zkfence-static | cut -d' ' -f1)\")\" = \"\$(realpath '$malib/libzkfence.a')\" ]" \
  "multiarch zkfence-static.pc: --libs names the installed archive"
check "cc '$src/examples/worker.c' \$(pcm --cflags --libs zkfence) \$(pkg-config --libs libcurl) -Wl,-rpath,'$malib' -o '$tmp/ma-shared' 2>'$tmp/ma-shared.log'" \
  "multiarch pkg-config build (shared)" "$tmp/ma-shared.log"
check "ldd '$tmp/ma-shared' | grep -q '$malib/libzkfence.so.0'" \
  "multiarch shared worker loads the multiarch libzkfence"
check "cc '$src/examples/worker.c' \$(pcm --cflags --libs zkfence-static) \$(pkg-config --libs libcurl) -o '$tmp/ma-static' 2>'$tmp/ma-static.log'" \
  "multiarch pkg-config build (static)" "$tmp/ma-static.log"
{ cmake -S "$src/examples" -B "$tmp/ma-cm" -DCMAKE_PREFIX_PATH="$ma" &&
  cmake --build "$tmp/ma-cm"; } >"$tmp/ma-cm.log" 2>&1 || true
check "[ -x '$tmp/ma-cm/example_worker' ]" "multiarch find_package(zkfence) build" "$tmp/ma-cm.log"

# Run them: through an installed proxy, against the test ZooKeeper.
up=0
zkp_start "$prefix/bin/zkfence-proxy" "$tmp" >"$tmp/start.log" && up=1
check "[ $up = 1 ]" "installed proxy is up" "$tmp/start.log"
scurl -fs -X PUT "$zkp_url/examples" >/dev/null || true
url="$zkp_url/examples/report.txt"
check "LD_LIBRARY_PATH='$libdir' '$tmp/cm/example_worker' '$zk' /zkf-test/pkg '$url'" "CMake-built worker runs"
check "'$tmp/pc-shared' '$zk' /zkf-test/pkg '$url'" "pkg-config shared worker runs"
check "'$tmp/pc-static' '$zk' /zkf-test/pkg '$url'" "pkg-config static worker runs"
check "'$tmp/ma-shared' '$zk' /zkf-test/pkg '$url'" "multiarch pkg-config shared worker runs"
check "'$tmp/ma-static' '$zk' /zkf-test/pkg '$url'" "multiarch pkg-config static worker runs"
check "scurl -fs '$url' | grep -q 'written under the lock'" "the fenced write reached storage"

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
