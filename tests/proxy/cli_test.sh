#!/usr/bin/env bash
# aws cli, s3cmd and boto3 against a real zkfence-proxy with authentication
# on, over HTTP and HTTPS (a certificate made here with the openssl
# command): mb, cp, ls, rm, s3api put-object --metadata fencing-lock=...,
# fencing-token=..., s3cmd put/get/ls/del and --add-header, with their
# normal configuration (access key and secret, path-style addressing); a
# wrong secret and an unknown key are refused; multipart uploads as each
# client makes them by default (a 20 MiB file: aws s3 cp, s3cmd put, boto3
# upload_fileobj), with the token in the metadata of the create only, then
# downloaded and compared byte for byte; a stale holder's multipart upload
# refused; the versioning answers, and a bucket emptied through
# ListObjectVersions and DeleteObjects (VersionId null).
# ZKF_LONG_TESTS=1 adds the same multipart round trip with 1 GiB.
# Exits 77 (ctest: skipped) when the tool asked for is not installed.
# Usage: cli_test.sh [aws|s3cmd|boto3|all]
# AWS_BIN picks the aws cli (default: Debian's /usr/bin/aws, else PATH's).
set -uo pipefail
which_tool=${1:-all}
bin=${ZKFENCE_BIN_DIR:-build/bin}/zkfence-proxy
# shellcheck source=../support/proxy.sh
. "$(dirname "$0")/../support/proxy.sh"
aws_bin=${AWS_BIN:-}
[ -z "$aws_bin" ] && [ -x /usr/bin/aws ] && aws_bin=/usr/bin/aws
[ -z "$aws_bin" ] && aws_bin=$(command -v aws 2>/dev/null)
have_aws=0 have_s3cmd=0 have_boto3=0 py=
[ -n "$aws_bin" ] && have_aws=1
command -v s3cmd >/dev/null 2>&1 && have_s3cmd=1
# Debian's python3-boto3 first (scripts/setup installs it), else any.
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import boto3' 2>/dev/null; then
    py=$p have_boto3=1
    break
  fi
done
case $which_tool in
aws) [ $have_aws = 1 ] || { echo "aws not installed: skipped"; exit 77; } ;;
s3cmd) [ $have_s3cmd = 1 ] || { echo "s3cmd not installed: skipped"; exit 77; } ;;
boto3) [ $have_boto3 = 1 ] || { echo "boto3 not installed: skipped"; exit 77; } ;;
*) [ $have_aws = 1 ] || [ $have_s3cmd = 1 ] || [ $have_boto3 = 1 ] || { echo "no S3 client: skipped"; exit 77; } ;;
esac
runs() { [ "$which_tool" = all ] || [ "$which_tool" = "$1" ]; }
long=${ZKF_LONG_TESTS:-0}

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
bucket.mp-open.fencing = optional
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
# Above every client's multipart threshold (8 MiB for aws and boto3, 15 MiB
# for s3cmd).
head -c $((20 << 20)) /dev/urandom >"$dir/f20"
[ "$long" = 1 ] && head -c $((1 << 30)) /dev/urandom >"$dir/f1g"
export AWS_ACCESS_KEY_ID=$ZKP_AK AWS_SECRET_ACCESS_KEY=$ZKP_SK
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
export AWS_CONFIG_FILE=$dir/aws.config AWS_SHARED_CREDENTIALS_FILE=$dir/aws.credentials
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
audit=$dir/data/audit.log
# The completed upload of KEY was fenced: its create, parts and completion
# accepted under LOCK and TOKEN, nothing refused.
fenced_upload() { # LOCK TOKEN KEY
  local a="\"lock\":\"$1\",\"token\":\"$2\"" k="\"key\":\"$3\""
  grep "$a" "$audit" | grep "$k" | grep -q '"op":"CreateMultipartUpload"' &&
    grep "$a" "$audit" | grep "$k" | grep -q '"op":"UploadPart"' &&
    grep "$a" "$audit" | grep "$k" | grep '"verdict":"accepted' | grep -q '"op":"CompleteMultipartUpload"'
}
no_uploads_left() { [ -z "$(find "$dir/data/objects" -path '*/.uploads/*' -print -quit)" ]; }

if [ $have_aws = 1 ] && runs aws; then
  echo "aws cli: $aws_bin ($("$aws_bin" --version 2>&1))"
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

  # Multipart, as aws s3 cp does it above 8 MiB: the token in the metadata
  # of the create only.
  mp() { # FILE KEY TOKEN
    a s3 cp "$1" "s3://cli-fenced/$2" --only-show-errors \
      --metadata "fencing-lock=/locks/aws-mp,fencing-token=$3,owner=cli"
  }
  roundtrip() { # FILE KEY
    a s3 cp "s3://cli-fenced/$2" "$dir/$2.back" --only-show-errors && cmp "$1" "$dir/$2.back" &&
      rm -f "$dir/$2.back"
  }
  etag_parts() { # KEY N: a multipart ETag of N parts
    a s3api head-object --bucket cli-fenced --key "$1" --query ETag --output text |
      grep -Eq "^\"?[0-9a-f]{32}-$2\"?\$"
  }
  owner_kept() { [ "$(a s3api head-object --bucket cli-fenced --key "$1" --query Metadata.owner --output text)" = cli ]; }
  absent() { ! a s3api head-object --bucket "$1" --key "$2" >/dev/null 2>&1; }
  no_listed_upload() { ! a s3api list-multipart-uploads --bucket "$1" | grep -q UploadId; }
  check "aws s3 cp 20 MiB (multipart, token in the metadata)" mp "$dir/f20" mp20 60
  check "aws multipart: byte-exact download" roundtrip "$dir/f20" mp20
  check "aws multipart: an ETag of 3 parts" etag_parts mp20 3
  check "aws multipart: the create's metadata kept" owner_kept mp20
  check "aws multipart: create, parts and completion fenced" fenced_upload /locks/aws-mp 60 mp20
  check "aws multipart: a stale holder's upload is refused (412)" \
    refused '\(StaleFencingToken\)' mp "$dir/f20" mp20-stale 59
  check "aws multipart: without a token, refused (428)" \
    refused '\(FencingTokenRequired\)' a s3 cp "$dir/f20" s3://cli-fenced/mp20-none --only-show-errors
  check "aws multipart: nothing of the stale upload stored" absent cli-fenced mp20-stale
  check "aws multipart: nothing of the unfenced upload stored" absent cli-fenced mp20-none
  check "aws s3api list-multipart-uploads: none left" no_listed_upload cli-fenced
  if [ "$long" = 1 ]; then
    check "aws s3 cp 1 GiB (multipart)" mp "$dir/f1g" mp1g 61
    check "aws 1 GiB: byte-exact download" roundtrip "$dir/f1g" mp1g
    check "aws 1 GiB: an ETag of 128 parts" etag_parts mp1g 128
  fi

  # Versioning answers, and a bucket emptied through its versions.
  unversioned() { [ -z "$(a s3api get-bucket-versioning --bucket cli-fenced)" ]; }
  versions_null() { # BUCKET N: N versions, each "null", into del.json
    a s3api list-object-versions --bucket "$1" \
      --query '{Objects: Versions[].{Key:Key,VersionId:VersionId}}' >"$dir/del.json" &&
      [ "$(grep -c '"VersionId": "null"' "$dir/del.json")" = "$2" ]
  }
  emptied() { ! a s3api list-object-versions --bucket "$1" | grep -q '"Key"'; }
  check "aws s3api get-bucket-versioning: never versioned (empty)" unversioned
  check "aws s3api put-bucket-versioning: refused (NotImplemented)" refused '\(NotImplemented\)' \
    a s3api put-bucket-versioning --bucket cli-fenced --versioning-configuration Status=Enabled
  check "aws s3 mb (optional, versions)" a s3 mb s3://mp-open
  check "aws s3 cp (small)" a s3 cp "$dir/small.txt" s3://mp-open/a --only-show-errors
  check "aws s3 cp (multipart, unfenced bucket)" a s3 cp "$dir/f20" s3://mp-open/b/c --only-show-errors
  check "aws s3api list-object-versions: each object as version null" versions_null mp-open 2
  check "aws s3api delete-objects (VersionId null)" \
    a s3api delete-objects --bucket mp-open --delete "file://$dir/del.json"
  check "aws: no version left" emptied mp-open
  check "aws s3 rb (emptied bucket)" a s3 rb s3://mp-open
fi

if [ $have_s3cmd = 1 ] && runs s3cmd; then
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
  listed() { s ls "$1" | grep -q "$2"; }
  check "s3cmd ls" listed s3://s3cmd-fenced 's3://s3cmd-fenced/obj'

  check "s3cmd put (optional bucket)" s put "$dir/small.txt" s3://cli-open/a/b.txt
  check "s3cmd with a wrong secret is refused (SignatureDoesNotMatch)" \
    refused 'SignatureDoesNotMatch' s3cmd -c "$dir/s3cfg-wrong" ls s3://cli-open
  check "s3cmd over HTTPS (ca_certs_file): put" st put "$dir/blob" s3://cli-open/tls.bin
  check "s3cmd over HTTPS: get" st get --force s3://cli-open/tls.bin "$dir/s.tls"
  check "s3cmd over HTTPS round trip is byte-exact" cmp "$dir/blob" "$dir/s.tls"
  check "s3cmd over HTTPS: del" st del s3://cli-open/tls.bin
  check "s3cmd del (optional bucket)" s del s3://cli-open/a/b.txt
  s_empty() { [ -z "$(s ls "$1")" ]; }
  check "s3cmd ls after del is empty" s_empty s3://cli-open

  # Multipart, as s3cmd put does it above 15 MiB; --add-header sends the
  # token on every request, the same lock each time.
  smp() { # FILE KEY TOKEN
    s put --no-progress --add-header=x-amz-meta-fencing-lock:/locks/s3cmd-mp \
      --add-header="x-amz-meta-fencing-token:$3" "$1" "s3://s3cmd-fenced/$2"
  }
  sround() { # FILE KEY
    s get --no-progress --force "s3://s3cmd-fenced/$2" "$dir/$2.back" && cmp "$1" "$dir/$2.back" &&
      rm -f "$dir/$2.back"
  }
  # ls -l shows the ETag as listed (info and --list-md5 show s3cmd's own
  # MD5 of the file instead).
  s_etag_parts() { s ls -l "s3://s3cmd-fenced/$1" | grep -Eq " [0-9a-f]{32}-$2 "; }
  s_absent() { ! s info "s3://s3cmd-fenced/$1" >/dev/null 2>&1; }
  check "s3cmd put 20 MiB (multipart, --add-header fencing)" smp "$dir/f20" mp20 70
  check "s3cmd multipart: byte-exact download" sround "$dir/f20" mp20
  check "s3cmd multipart: an ETag of 2 parts" s_etag_parts mp20 2
  check "s3cmd multipart: create, parts and completion fenced" fenced_upload /locks/s3cmd-mp 70 mp20
  check "s3cmd multipart: a stale holder's upload is refused (412)" \
    refused '412.*StaleFencingToken' smp "$dir/f20" mp20-stale 69
  check "s3cmd multipart: nothing of it stored" s_absent mp20-stale
  if [ "$long" = 1 ]; then
    check "s3cmd put 1 GiB (multipart)" smp "$dir/f1g" mp1g 71
    check "s3cmd 1 GiB: byte-exact download" sround "$dir/f1g" mp1g
    check "s3cmd 1 GiB: an ETag of 69 parts" s_etag_parts mp1g 69
  fi
fi

if [ $have_boto3 = 1 ] && runs boto3; then
  cat >"$dir/b3.py" <<'PY'
# boto3 against zkfence-proxy: upload_fileobj with the token in ExtraArgs
# Metadata (multipart above 8 MiB), download, a stale holder refused, and a
# bucket emptied with bucket.object_versions.delete().
import sys

import boto3
import botocore
from botocore.exceptions import ClientError

url, what = sys.argv[1], sys.argv[2]
cfg = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=url, config=cfg)


def fenced(token):
    return {"Metadata": {"fencing-lock": "/locks/boto-mp", "fencing-token": str(token)}}


if what == "bucket":
    s3.create_bucket(Bucket="boto-fenced")
elif what == "put":  # FILE KEY TOKEN
    with open(sys.argv[3], "rb") as f:
        s3.upload_fileobj(f, "boto-fenced", sys.argv[4], ExtraArgs=fenced(sys.argv[5]))
elif what == "get":  # KEY FILE, and the ETag's part count
    s3.download_file("boto-fenced", sys.argv[3], sys.argv[4])
    print(s3.head_object(Bucket="boto-fenced", Key=sys.argv[3])["ETag"])
elif what == "stale":  # FILE KEY TOKEN: must be refused
    try:
        with open(sys.argv[3], "rb") as f:
            s3.upload_fileobj(f, "boto-fenced", sys.argv[4], ExtraArgs=fenced(sys.argv[5]))
    except ClientError as e:
        print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        sys.exit(0 if e.response["Error"]["Code"] == "StaleFencingToken" else 1)
    except boto3.exceptions.S3UploadFailedError as e:
        print(e)
        sys.exit(0 if "StaleFencingToken" in str(e) else 1)
    sys.exit("accepted")
elif what == "versions":  # empty a fenced bucket through its versions
    res = boto3.resource("s3", endpoint_url=url, config=cfg)

    def fence(request, **kw):  # every request carries the holder's token
        request.headers["X-Fencing-Lock"] = "/locks/boto-mp"
        request.headers["X-Fencing-Token"] = "81"

    res.meta.client.meta.events.register("before-sign.s3", fence)
    b = res.Bucket("boto-fenced")
    assert res.meta.client.get_bucket_versioning(Bucket="boto-fenced").get("Status") is None
    versions = list(b.object_versions.all())
    assert versions and all(v.version_id == "null" for v in versions), versions
    b.object_versions.delete()
    assert not list(b.object_versions.all())
    b.delete()
PY
  b3() { "$py" "$dir/b3.py" "$url" "$@"; }
  bround() { # KEY FILE PARTS
    b3 get "$1" "$dir/$1.back" >"$dir/etag" && cmp "$2" "$dir/$1.back" &&
      grep -q -- "-$3\"" "$dir/etag" && rm -f "$dir/$1.back"
  }
  echo "boto3 $("$py" -c 'import boto3; print(boto3.__version__)') ($py)"
  check "boto3 create_bucket" b3 bucket
  check "boto3 upload_fileobj 20 MiB (multipart, Metadata fencing)" b3 put "$dir/f20" mp20 80
  check "boto3 multipart: byte-exact download, an ETag of 3 parts" bround mp20 "$dir/f20" 3
  check "boto3 multipart: create, parts and completion fenced" fenced_upload /locks/boto-mp 80 mp20
  check "boto3 multipart: a stale holder's upload is refused (412)" b3 stale "$dir/f20" mp20-s 79
  if [ "$long" = 1 ]; then
    check "boto3 upload_fileobj 1 GiB (multipart)" b3 put "$dir/f1g" mp1g 81
    check "boto3 1 GiB: byte-exact download" bround mp1g "$dir/f1g" 128
  fi
  check "boto3 object_versions.delete() empties the bucket" b3 versions
fi

check "no multipart upload left behind" no_uploads_left

kill -TERM $pid
wait $pid
status=$?
pid=
check "clean shutdown (exit 0)" test $status -eq 0
# After it: staging files, and the parts of ended uploads (deleted in the
# background while it runs), are all gone.
check "no staging files left" bash -c "[ -z \"\$(ls -A $dir/data/tmp)\" ]"
[ $failures -eq 0 ] || { echo "$failures failure(s)"; cat "$dir/proxy.log"; exit 1; }
echo "all CLI checks passed"
