#!/usr/bin/env bash
# The bash completion of zkfence: sources the completion file (the one in
# the source tree, or the installed one given as $1) and checks COMPREPLY
# for a few command lines, as bash would ask for them on TAB.
set -uo pipefail
src=${ZKFENCE_SOURCE_DIR:?}
file=${1:-$src/completion/zkfence.bash}
fail=0
# shellcheck source=../../completion/zkfence.bash
. "$file" || { echo "FAILED: cannot source $file"; exit 1; }
tmp=$(mktemp -d /tmp/zkfence-completion-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/report.txt" "$tmp/rest.log"

# complete_line LINE: COMPREPLY for the cursor at the end of LINE (a
# trailing space starts a new, empty word), as one space-separated string.
complete_line() {
  read -r -a COMP_WORDS <<<"$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=$1 COMP_POINT=${#1}
  COMPREPLY=()
  _zkfence zkfence "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
  local sorted
  sorted=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
  echo "${sorted% }"
}
expect() { # expect LINE WANTED: the completions are exactly WANTED (sorted)
  local got
  got=$(complete_line "$1")
  if [ "$got" = "$2" ]; then echo "ok: '$1' -> '$got'"; else echo "FAILED: '$1' -> '$got', want '$2'"; fail=1; fi
}
expect_has() { # expect_has LINE WORD: WORD is among the completions
  local got
  got=$(complete_line "$1")
  if [[ " $got " == *" $2 "* ]]; then echo "ok: '$1' offers '$2'"; else echo "FAILED: '$1' -> '$got', no '$2'"; fail=1; fi
}

check_complete=$(complete -p zkfence 2>/dev/null)
if [[ $check_complete == *"-F _zkfence"* ]]; then echo "ok: complete -F _zkfence zkfence"; else echo "FAILED: not registered: '$check_complete'"; fail=1; fi
expect "zkfence " "--help --version holders lock"
expect "zkfence ho" "holders"
expect "zkfence l" "lock"
expect "zkfence holders --j" "--json"
expect "zkfence holders -" "--help --json --wait -w -z"
expect "zkfence lock -" "--fence-advance --help --wait -g -s -w -z"
expect "zkfence lock --w" "--wait"
expect "zkfence lock -w " ""
expect "zkfence lock -w 5 /locks/x " "--"
expect_has "zkfence lock /locks/x -- ech" "echo"
expect "zkfence lock /locks/x -- sh $tmp/re" "$tmp/report.txt $tmp/rest.log"
ZKFENCE_ZOOKEEPER=zk1:2181,zk2:2181 expect "zkfence lock -z " "zk1:2181,zk2:2181"
expect "zkfence frob -" ""

if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
