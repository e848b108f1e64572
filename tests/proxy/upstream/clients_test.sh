#!/usr/bin/env bash
# One client suite, unmodified clients (Debian's aws cli /usr/bin/aws,
# s3cmd, boto3 under /usr/bin/python3), against one of three set-ups:
#   fs      zkfence-proxy with the local-files backend
#   s3rver  zkfence-proxy with backend = s3 in front of s3rver
#   chain   zkfence-proxy A (backend = s3) in front of zkfence-proxy B
#           (local files, fencing = optional: A fences, B stores)
# Each client also uploads 20 MiB, over its multipart threshold, with the
# token in the create's metadata. Then, for s3rver and chain, what reached
# the store behind: the fenced objects byte-exact there, the stale write
# absent.
# Clients send credentials the normal way (environment, s3cmd config), so
# the suite keeps working once the proxy verifies signatures.
# Usage: clients_test.sh fs|s3rver|chain
set -uo pipefail
mode=${1:?usage: clients_test.sh fs|s3rver|chain}
root=$(cd "$(dirname "$0")/../../.." && pwd)
dir=$(mktemp -d /tmp/zkfence-clients-test.XXXXXX)
. "$root/tests/proxy/upstream/lib.sh"
trap lib_cleanup EXIT

aws=/usr/bin/aws py=/usr/bin/python3
for t in "$aws" s3cmd "$py"; do
  command -v "$t" >/dev/null || { echo "$t is missing (scripts/setup installs it)"; exit 1; }
done
"$py" -c 'import boto3' || { echo "python3-boto3 is missing"; exit 1; }

policy=("bucket.cli-open.fencing = optional" "bucket.boto-open.fencing = optional")
write_creds "$dir/creds" "$AK" "$SK"
case $mode in
fs) start_proxy A "${policy[@]}" || exit 1 ;;
s3rver)
  start_s3rver up || exit 1
  write_creds "$dir/creds" S3RVER S3RVER
  start_proxy A "backend = s3" "s3.endpoint = $S3_up" "s3.credentials_file = $dir/creds" \
    "s3.unmapped = same" "${policy[@]}" || exit 1
  ;;
chain)
  # B trusts A: A is its only client and has fenced every write already.
  start_proxy B "fencing = optional" || exit 1
  start_proxy A "backend = s3" "s3.endpoint = $URL_B" "s3.credentials_file = $dir/creds" \
    "s3.unmapped = same" "${policy[@]}" || exit 1
  ;;
*) echo "unknown mode $mode"; exit 64 ;;
esac
url=$URL_A
echo "# $mode: proxy at $url"

# refused PATTERN COMMAND...: the command fails and its output names why.
refused() {
  local pattern=$1 out
  shift
  if out=$("$@" 2>&1); then echo "expected a refusal, it succeeded: $out"; return 1; fi
  echo "$out"
  grep -Eq -- "$pattern" <<<"$out" || { echo "(no match for: $pattern)"; return 1; }
}
head -c 300000 /dev/urandom >"$dir/blob"
echo "small text" >"$dir/small.txt"
head -c $((20 << 20)) /dev/urandom >"$dir/big"  # over every client's multipart threshold
head -c $((20 << 20)) /dev/urandom >"$dir/big2"

# --- aws cli ------------------------------------------------------------------------
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER= AWS_CONFIG_FILE=$dir/aws.config
export AWS_SHARED_CREDENTIALS_FILE=$dir/aws.credentials
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
a() { "$aws" --endpoint-url "$url" "$@"; }
expect "aws s3 mb" a s3 mb s3://cli-open
expect "aws s3 mb (fenced bucket)" a s3 mb s3://cli-fenced
expect "aws s3 ls (buckets)" bash -c "$aws --endpoint-url $url s3 ls | grep -q cli-fenced"
expect "aws s3 cp up" a s3 cp "$dir/blob" s3://cli-open/dir/blob
expect "aws s3 cp down" a s3 cp s3://cli-open/dir/blob "$dir/blob.back"
expect "aws round trip is byte-exact" cmp "$dir/blob" "$dir/blob.back"
expect "aws s3 ls (objects)" bash -c "$aws --endpoint-url $url s3 ls --recursive s3://cli-open | grep -q dir/blob"
expect "aws s3 cp to a fenced bucket without token: 428" \
  refused '\(FencingTokenRequired\)' a s3 cp "$dir/small.txt" s3://cli-fenced/x
expect "aws s3api put-object --metadata fencing" a s3api put-object --bucket cli-fenced \
  --key f/obj --body "$dir/blob" --metadata fencing-lock=/locks/cli,fencing-token=42,owner=me
expect "aws s3api get-object" a s3api get-object --bucket cli-fenced --key f/obj "$dir/f.back"
expect "fenced object is byte-exact" cmp "$dir/blob" "$dir/f.back"
expect "user metadata kept, fencing metadata not stored" bash -c \
  "$aws --endpoint-url $url s3api head-object --bucket cli-fenced --key f/obj >$dir/head.json &&
   grep -q '\"owner\": \"me\"' $dir/head.json && ! grep -q fencing-token $dir/head.json"
expect "aws stale token refused: 412" refused '\(StaleFencingToken\).*high-water mark 42' \
  a s3api put-object --bucket cli-fenced --key f/obj --body "$dir/small.txt" \
  --metadata fencing-lock=/locks/cli,fencing-token=41
expect "stale body did not land" bash -c \
  "$aws --endpoint-url $url s3api get-object --bucket cli-fenced --key f/obj $dir/f2 >/dev/null && cmp $dir/blob $dir/f2"
expect "aws s3 cp of 20 MiB: a multipart upload, the token in its metadata" a s3 cp "$dir/big" \
  s3://cli-fenced/big --metadata fencing-lock=/locks/cli,fencing-token=43
expect "... downloaded byte-exact" bash -c "$aws --endpoint-url $url s3 cp s3://cli-fenced/big - | cmp - $dir/big"
expect "... a stale holder's multipart upload refused (412)" refused '\(StaleFencingToken\)' \
  a s3 cp "$dir/big2" s3://cli-fenced/big --metadata fencing-lock=/locks/cli,fencing-token=42
expect "... and absent" bash -c "$aws --endpoint-url $url s3 cp s3://cli-fenced/big - | cmp - $dir/big"
expect "aws s3 rm" a s3 rm s3://cli-open/dir/blob
expect "aws s3 ls after rm is empty" bash -c "[ -z \"\$($aws --endpoint-url $url s3 ls --recursive s3://cli-open)\" ]"
expect "aws s3 rb" a s3 rb s3://cli-open

# --- s3cmd ----------------------------------------------------------------------------
hostport=${url#http://}
cat >"$dir/s3cfg" <<CFG
[default]
access_key = $AK
secret_key = $SK
host_base = $hostport
host_bucket = $hostport
use_https = False
signature_v2 = False
bucket_location = us-east-1
CFG
s() { s3cmd -c "$dir/s3cfg" "$@"; }
fence=(--add-header=x-amz-meta-fencing-lock:/locks/s3cmd --add-header=x-amz-meta-fencing-token:7)
expect "s3cmd mb" s mb s3://s3cmd-fenced
expect "s3cmd mb (optional)" s mb s3://cli-open
expect "s3cmd put --add-header fencing" s put "${fence[@]}" "$dir/blob" s3://s3cmd-fenced/obj
expect "s3cmd put without token: 428" refused '428.*FencingTokenRequired' \
  s put "$dir/small.txt" s3://s3cmd-fenced/nofence
expect "s3cmd put with a stale token: 412" refused '412.*StaleFencingToken.*high-water mark 7' \
  s put --add-header=x-amz-meta-fencing-lock:/locks/s3cmd \
  --add-header=x-amz-meta-fencing-token:6 "$dir/small.txt" s3://s3cmd-fenced/obj
expect "s3cmd put of 20 MiB: a multipart upload, the token in its headers" \
  s put "${fence[@]}" "$dir/big" s3://s3cmd-fenced/big
expect "... downloaded byte-exact" bash -c "s3cmd -c $dir/s3cfg get --force s3://s3cmd-fenced/big $dir/sbig && cmp $dir/big $dir/sbig"
expect "s3cmd get" s get --force s3://s3cmd-fenced/obj "$dir/s.back"
expect "s3cmd round trip is byte-exact (stale write absent)" cmp "$dir/blob" "$dir/s.back"
expect "s3cmd ls" bash -c "s3cmd -c $dir/s3cfg ls s3://s3cmd-fenced | grep -q s3://s3cmd-fenced/obj"
expect "s3cmd put (optional bucket)" s put "$dir/small.txt" s3://cli-open/a/b.txt
expect "s3cmd del (optional bucket)" s del s3://cli-open/a/b.txt
expect "s3cmd ls after del is empty" bash -c "[ -z \"\$(s3cmd -c $dir/s3cfg ls s3://cli-open)\" ]"

# --- boto3 -------------------------------------------------------------------------------
if "$py" "$root/tests/proxy/upstream/boto3_client.py" "$url" >"$dir/boto3.out" 2>&1; then
  cat "$dir/boto3.out"
else
  fail "boto3 suite" "$dir/boto3.out"
fi

# --- what reached the store behind the proxy -----------------------------------------------
case $mode in
s3rver)
  expect "s3rver holds the fenced object byte-exact (the stale write absent)" \
    cmp "$dir/blob" "$STORE_up/cli-fenced/f/obj._S3rver_object"
  expect "s3rver holds the 20 MiB multipart object byte-exact" \
    cmp "$dir/big" "$STORE_up/cli-fenced/big._S3rver_object"
  expect "... with the create's token as provenance" grep -q '"x-amz-meta-zkfence-token": "43"' \
    "$STORE_up/cli-fenced/big._S3rver_metadata.json"
  ;;
chain)
  expect "proxy B holds the fenced object byte-exact (the stale write absent)" \
    bash -c "pcurl -sf $URL_B/cli-fenced/f/obj | cmp - $dir/blob"
  expect "B keeps A's provenance as user metadata" \
    bash -c "pcurl -sfI $URL_B/cli-fenced/f/obj | grep -qi 'x-amz-meta-zkfence-token: 42'"
  expect "proxy B holds the 20 MiB multipart object byte-exact" \
    bash -c "pcurl -sf $URL_B/cli-fenced/big | cmp - $dir/big"
  ;;
esac
expect "no staging files left" bash -c "[ -z \"\$(ls -A $DATA_A/tmp 2>/dev/null)\" ]"
kill -TERM "$PID_A"
wait "$PID_A"
expect "clean shutdown (exit 0)" test $? -eq 0
finish
