#!/usr/bin/env bash
# aws cli and s3cmd against a real zkfence-proxy with authentication on,
# over HTTP and HTTPS (a certificate made here with the openssl command):
# mb, cp, ls, rm, s3api put-object --metadata fencing-lock=...,
# fencing-token=..., s3cmd put/get/ls/del and --add-header, with their
# normal configuration (access key and secret, path-style addressing); a
# wrong secret and an unknown key are refused. Exits 77 (ctest: skipped)
# when neither tool is installed. Usage: cli_test.sh [aws|s3cmd|all]
# AWS_BIN picks the aws cli (default: Debian's /usr/bin/aws, else PATH's).
set -uo pipefail
which_tool=${1:-all}
bin=${ZKFENCE_BIN_DIR:-build/bin}/zkfence-proxy
# shellcheck source=../support/proxy.sh
. "$(dirname "$0")/../support/proxy.sh"
aws_bin=${AWS_BIN:-}
[ -z "$aws_bin" ] && [ -x /usr/bin/aws ] && aws_bin=/usr/bin/aws
[ -z "$aws_bin" ] && aws_bin=$(command -v aws 2>/dev/null)
have_aws=0 have_s3cmd=0
[ -n "$aws_bin" ] && have_aws=1
command -v s3cmd >/dev/null 2>&1 && have_s3cmd=1
case $which_tool in
aws) [ $have_aws = 1 ] || { echo "aws not installed: skipped"; exit 77; } ;;
s3cmd) [ $have_s3cmd = 1 ] || { echo "s3cmd not installed: skipped"; exit 77; } ;;
*) [ $have_aws = 1 ] || [ $have_s3cmd = 1 ] || { echo "no S3 CLI: skipped"; exit 77; } ;;
esac

dir=$(mktemp -d /tmp/zkfence-cli-test.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
tls_port=$(free_port)
make_credentials "$dir/credentials"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" \
  -out "$dir/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' >/dev/null 2>&1 || { echo "openssl failed"; exit 1; }
chmod 600 "$dir/key.pem"
cat >"$dir/proxy.conf" <<CONF
listen = 127.0.0.1:$port
tls_listen = 127.0.0.1:$tls_port
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem
credentials = $dir/credentials
data_dir = $dir/data
bucket.cli-open.fencing = optional
CONF
"$bin" --config "$dir/proxy.conf" >"$dir/proxy.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port
surl=https://localhost:$tls_port
deadline=$((SECONDS + 20))
until curl -sf "$url/_zkfence/health" >/dev/null; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 $pid 2>/dev/null; then
    echo "proxy did not start"; cat "$dir/proxy.log"; exit 1
  fi
  sleep 0.05 # polling interval of the health wait
done

failures=0
check() { # check NAME COMMAND...: runs it, records a failure if it fails
  local name=$1; shift
  if "$@" >"$dir/out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"; sed 's/^/     /' "$dir/out"; failures=$((failures + 1))
  fi
}
# refused PATTERN COMMAND...: the command fails, and its output names the
# refusal (an S3 error code, a status): "it failed" alone could be anything.
refused() {
  local pattern=$1; shift
  local out
  if out=$("$@" 2>&1); then
    echo "expected a refusal, the command succeeded:"; echo "$out"; return 1
  fi
  echo "$out"
  grep -Eq -- "$pattern" <<<"$out" || { echo "(no match for: $pattern)"; return 1; }
}

head -c 300000 /dev/urandom >"$dir/blob"
echo "small text" >"$dir/small.txt"

if [ $have_aws = 1 ] && [ "$which_tool" != s3cmd ]; then
  echo "aws cli: $aws_bin ($("$aws_bin" --version 2>&1))"
  export AWS_ACCESS_KEY_ID=$ZKP_AK AWS_SECRET_ACCESS_KEY=$ZKP_SK
  export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
  export AWS_CONFIG_FILE=$dir/aws.config AWS_SHARED_CREDENTIALS_FILE=$dir/aws.credentials
  printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n' >"$AWS_CONFIG_FILE"
  : >"$AWS_SHARED_CREDENTIALS_FILE"
  a() { "$aws_bin" --endpoint-url "$url" "$@"; }
  as() { "$aws_bin" --endpoint-url "$surl" --ca-bundle "$dir/cert.pem" "$@"; }
  check "aws s3 mb" a s3 mb s3://cli-open
  check "aws s3 mb (fenced bucket)" a s3 mb s3://cli-fenced
  check "aws s3 ls (buckets)" bash -c "'$aws_bin' --endpoint-url $url s3 ls | grep -q cli-fenced"
  check "aws s3 cp up" a s3 cp "$dir/blob" s3://cli-open/dir/blob
  check "aws s3 cp down" a s3 cp s3://cli-open/dir/blob "$dir/blob.back"
  check "aws round trip is byte-exact" cmp "$dir/blob" "$dir/blob.back"
  check "aws s3 ls (objects)" bash -c "'$aws_bin' --endpoint-url $url s3 ls --recursive s3://cli-open | grep -q 'dir/blob'"
  check "aws s3 cp to fenced bucket without token is refused (428)" \
    refused '\(FencingTokenRequired\)' a s3 cp "$dir/small.txt" s3://cli-fenced/x
  check "aws s3api put-object --metadata fencing" a s3api put-object --bucket cli-fenced --key f/obj \
    --body "$dir/blob" --metadata fencing-lock=/locks/cli,fencing-token=42,owner=me
  check "aws s3api get-object" a s3api get-object --bucket cli-fenced --key f/obj "$dir/f.back"
  check "fenced object is byte-exact" cmp "$dir/blob" "$dir/f.back"
  check "user metadata kept, fencing metadata not stored" bash -c \
    "'$aws_bin' --endpoint-url $url s3api head-object --bucket cli-fenced --key f/obj > $dir/head.json &&
     grep -q '\"owner\": \"me\"' $dir/head.json && ! grep -q 'fencing-token' $dir/head.json"
  check "aws stale token refused (412)" refused '\(StaleFencingToken\).*high-water mark 42' \
    a s3api put-object --bucket cli-fenced --key f/obj \
    --body "$dir/small.txt" --metadata fencing-lock=/locks/cli,fencing-token=41
  check "stale body did not land" bash -c \
    "'$aws_bin' --endpoint-url $url s3api get-object --bucket cli-fenced --key f/obj $dir/f2 >/dev/null && cmp $dir/blob $dir/f2"
  check "aws presign: the URL reads the object (curl)" bash -c \
    "curl -sf \"\$('$aws_bin' --endpoint-url $url s3 presign s3://cli-fenced/f/obj --expires-in 60)\" -o $dir/p.back && cmp $dir/blob $dir/p.back"
  check "aws with a wrong secret is refused (SignatureDoesNotMatch)" \
    refused 'SignatureDoesNotMatch' env AWS_SECRET_ACCESS_KEY=wrong-secret-0123456789 \
    "$aws_bin" --endpoint-url "$url" s3 ls s3://cli-open
  check "aws with an unknown key is refused (InvalidAccessKeyId)" \
    refused 'InvalidAccessKeyId' env AWS_ACCESS_KEY_ID=AKUNKNOWN0000 \
    "$aws_bin" --endpoint-url "$url" s3 ls s3://cli-open
  check "aws over HTTPS (--ca-bundle): cp up" as s3 cp "$dir/blob" s3://cli-open/tls/blob
  check "aws over HTTPS (--ca-bundle): cp down" as s3 cp s3://cli-open/tls/blob "$dir/blob.tls"
  check "aws over HTTPS round trip is byte-exact" cmp "$dir/blob" "$dir/blob.tls"
  check "aws over HTTPS: fenced put-object" as s3api put-object --bucket cli-fenced --key f/tls \
    --body "$dir/small.txt" --metadata fencing-lock=/locks/cli,fencing-token=43
  check "aws over HTTPS without the CA is refused by the client" \
    refused 'SSL|certificate' "$aws_bin" --endpoint-url "$surl" s3 ls s3://cli-open
  check "aws s3 rm" a s3 rm s3://cli-open/dir/blob
  check "aws s3 rm (HTTPS)" as s3 rm s3://cli-open/tls/blob
  check "aws s3 ls after rm is empty" bash -c "[ -z \"\$('$aws_bin' --endpoint-url $url s3 ls --recursive s3://cli-open)\" ]"
  check "aws s3 rb" a s3 rb s3://cli-open
fi

if [ $have_s3cmd = 1 ] && [ "$which_tool" != aws ]; then
  cat >"$dir/s3cfg" <<CFG
[default]
access_key = $ZKP_AK
secret_key = $ZKP_SK
host_base = 127.0.0.1:$port
host_bucket = 127.0.0.1:$port
use_https = False
signature_v2 = False
bucket_location = us-east-1
CFG
  sed -e "s|127.0.0.1:$port|localhost:$tls_port|" -e 's|use_https = False|use_https = True|' \
    "$dir/s3cfg" >"$dir/s3cfg-tls"
  printf 'ca_certs_file = %s\ncheck_ssl_certificate = True\n' "$dir/cert.pem" >>"$dir/s3cfg-tls"
  sed -e "s|secret_key = .*|secret_key = wrong-secret-0123456789|" "$dir/s3cfg" >"$dir/s3cfg-wrong"
  s() { s3cmd -c "$dir/s3cfg" "$@"; }
  st() { s3cmd -c "$dir/s3cfg-tls" "$@"; }
  fence=(--add-header=x-amz-meta-fencing-lock:/locks/s3cmd --add-header=x-amz-meta-fencing-token:7)
  check "s3cmd mb" s mb s3://s3cmd-fenced
  check "s3cmd mb (optional)" s mb s3://cli-open
  check "s3cmd put --add-header fencing" s put "${fence[@]}" "$dir/blob" s3://s3cmd-fenced/obj
  check "s3cmd put without token refused (428)" refused '428.*FencingTokenRequired' \
    s put "$dir/small.txt" s3://s3cmd-fenced/nofence
  check "s3cmd put stale token refused (412)" refused '412.*StaleFencingToken.*high-water mark 7' \
    s put --add-header=x-amz-meta-fencing-lock:/locks/s3cmd \
    --add-header=x-amz-meta-fencing-token:6 "$dir/small.txt" s3://s3cmd-fenced/obj
  check "s3cmd get" s get --force s3://s3cmd-fenced/obj "$dir/s.back"
  check "s3cmd round trip is byte-exact (stale write absent)" cmp "$dir/blob" "$dir/s.back"
  check "s3cmd ls" bash -c "s3cmd -c $dir/s3cfg ls s3://s3cmd-fenced | grep -q 's3://s3cmd-fenced/obj'"
  check "s3cmd put (optional bucket)" s put "$dir/small.txt" s3://cli-open/a/b.txt
  check "s3cmd with a wrong secret is refused (SignatureDoesNotMatch)" \
    refused 'SignatureDoesNotMatch' s3cmd -c "$dir/s3cfg-wrong" ls s3://cli-open
  check "s3cmd over HTTPS (ca_certs_file): put" st put "$dir/blob" s3://cli-open/tls.bin
  check "s3cmd over HTTPS: get" st get --force s3://cli-open/tls.bin "$dir/s.tls"
  check "s3cmd over HTTPS round trip is byte-exact" cmp "$dir/blob" "$dir/s.tls"
  check "s3cmd over HTTPS: del" st del s3://cli-open/tls.bin
  check "s3cmd del (optional bucket)" s del s3://cli-open/a/b.txt
  check "s3cmd ls after del is empty" bash -c "[ -z \"\$(s3cmd -c $dir/s3cfg ls s3://cli-open)\" ]"
fi

check "no staging files left" bash -c "[ -z \"\$(ls -A $dir/data/tmp)\" ]"
kill -TERM $pid
wait $pid
status=$?
pid=
check "clean shutdown (exit 0)" test $status -eq 0
[ $failures -eq 0 ] || { echo "$failures failure(s)"; cat "$dir/proxy.log"; exit 1; }
echo "all CLI checks passed"
