#!/usr/bin/env bash
# The READMEs' examples, run as written. Every ```sh block of README.md and
# proxy/README.md is preceded by a marker line:
#
#   <!-- docs-test: run -->                 run here, must exit 0
#   <!-- docs-test: illustrative: WHY -->   shown, not run (listed below)
#
# and a ```c block by `<!-- docs-test: compile -->`: compiled against this
# build. An unmarked block fails the test, so that every new example is
# either run or said not to be. The runnable ones run one after the other,
# in order, each with `bash -eo pipefail` in a scratch directory, with a
# scratch HOME (the aws cli's files stay here), this build's binaries first
# on PATH, the test ZooKeeper as $ZKFENCE_ZOOKEEPER (zkfence's default
# server), and a zkfence-proxy started here, authenticating as by default,
# whose admin key is in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the
# examples say to set them; tests/support/proxy.sh): the one thing changed in the
# text is the proxy's documented address, 127.0.0.1:9000, which becomes
# this proxy's free port. Also: every relative link of the two files points
# into the repository, at something that exists.
set -euo pipefail
bin=${ZKFENCE_BIN_DIR:?}
src=${ZKFENCE_SOURCE_DIR:?}
zk=${ZKFENCE_TEST_ZK:?run through scripts/test}
# shellcheck source=../support/proxy.sh
. "$src/tests/support/proxy.sh"
tmp=$(mktemp -d /tmp/zkfence-docs-test.XXXXXX)
cleanup() {
  zkp_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2"; fail=1; fi; }

# ---- extract: one file per block, and the markers' verdicts
marked=0
python3 - "$src" "$tmp/blocks" README.md proxy/README.md <<'EOF' || marked=$?
import os, re, sys
src, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(out)
n = 0
bad = []
with open(os.path.join(out, "index"), "w") as index:
    for name in files:
        lines = open(os.path.join(src, name)).read().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"^```(\w*)\s*$", lines[i])
            if not m:
                i += 1
                continue
            lang, start = m.group(1), i
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            body = "\n".join(lines[start + 1:j]) + "\n"
            k = start - 1
            while k >= 0 and lines[k].strip() == "":
                k -= 1
            marker = re.match(r"^<!-- docs-test: (run|compile|illustrative: .+) -->$",
                              lines[k].strip()) if k >= 0 else None
            where = "%s:%d" % (name, start + 1)
            if lang in ("sh", "c"):
                want = "run" if lang == "sh" else "compile"
                if marker is None or not (marker.group(1) == want or
                                          marker.group(1).startswith("illustrative: ")):
                    bad.append(where)
                else:
                    n += 1
                    kind = marker.group(1).split(":")[0]
                    path = os.path.join(out, "%02d.%s" % (n, "c" if lang == "c" else "sh"))
                    open(path, "w").write(body)
                    why = marker.group(1)[len("illustrative: "):] if kind == "illustrative" else ""
                    index.write("%s\t%s\t%s\t%s\n" % (kind, path, where, why))
            i = j + 1
for b in bad:
    print("unmarked or mismarked code block at %s: precede it with <!-- docs-test: run -->"
          " (compile, for C) or <!-- docs-test: illustrative: WHY -->" % b)
sys.exit(1 if bad else 0)
EOF
check "[ $marked = 0 ]" "every code block of README.md and proxy/README.md is marked"
[ -s "$tmp/blocks/index" ] || exit 1

# ---- links: relative ones point into the repository, at files that exist
for f in README.md proxy/README.md docs/fencing.md; do
  dir=$(dirname "$src/$f")
  while IFS= read -r link; do
    target=${link%%#*}
    [ -n "$target" ] || continue
    case $target in http://* | https://* | mailto:*) continue ;; esac
    abs=$(realpath -m "$dir/$target")
    check "[[ '$abs' == '$src'/* ]] && [ -e '$abs' ]" "$f links $link: inside the repository, and there"
  done < <(grep -o '\]([^)]*)' "$src/$f" | sed 's/^](//; s/)$//')
done

# ---- the servers the examples talk to
zkp_start "$bin/zkfence-proxy" "$tmp" || exit 1
port=${zkp_url##*:}
mkdir -p "$tmp/home" "$tmp/work"

illustrative=()
while IFS=$'\t' read -r kind path where why; do
  case $kind in
  illustrative) illustrative+=("$where: $why") ;;
  compile)
    check "cc -std=c11 -Wall -Werror -I'$src/include' '$path' -o '$tmp/example' -L'$bin/../lib' -lzkfence 2>'$tmp/cc.log'" \
      "$where compiles as written" || cat "$tmp/cc.log"
    ;;
  run)
    sed -i "s/127\.0\.0\.1:9000/127.0.0.1:$port/g" "$path"
    rc=0
    (cd "$tmp/work" && HOME=$tmp/home PATH=$bin:$PATH ZKFENCE_ZOOKEEPER=$zk \
      AWS_EC2_METADATA_DISABLED=true AWS_PAGER= bash -eo pipefail "$path") >"$tmp/out" 2>&1 || rc=$?
    check "[ $rc = 0 ]" "$where runs as written (exit $rc)"
    [ $rc = 0 ] || { sed 's/^/    /' "$tmp/out"; echo "    --- the block, as run:"; sed 's/^/    /' "$path"; }
    ;;
  esac
done <"$tmp/blocks/index"

# What the examples left in storage: the last write of seat 12 came through
# the lock (a fenced write: the bucket requires a token), and the mark is
# the token of a real ZooKeeper node.
check "scurl -fs 'http://127.0.0.1:$port/seats/seat-12' | grep -q '\"seat\": 12'" \
  "the examples' booking is stored"
check "scurl -fs 'http://127.0.0.1:$port/_zkfence/marks' | grep -q '\"lock\":\"/locks/seat-12\"'" \
  "... under a mark of lock /locks/seat-12"

echo "illustrative blocks (shown, not run):"
for i in "${illustrative[@]}"; do echo "  $i"; done
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
