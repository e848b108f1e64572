#!/usr/bin/env bash
# zkfence-proxy with backend = s3 in front of s3rver (a store nobody here
# wrote), curl style: the request sent, the answer expected, and what must
# (or must not) be in s3rver's files.
#  - start-up: an unreachable endpoint exits 69, a missing bucket, refused
#    credentials or a credentials file others can read exit 78, each with
#    a message naming the endpoint and the call;
#  - a bucket mapped to a prefix of an upstream bucket; unmapped refused;
#    user metadata, provenance, listings, ranges, a 6 MiB object streamed;
#  - a body signed with its SHA-256: sent upstream with that hash and no
#    Content-MD5 (a recording store), the client given the store's ETag
#    (the MD5 when it names none); a mismatched body or Content-MD5 refused
#    before anything reaches s3rver;
#  - fencing: lower/equal/higher tokens, a stale write never reaching
#    s3rver (its object file unchanged), a token overtaken while its body
#    streams, bodies staged in memory within a budget, 8 concurrent
#    writers of one lock (the upstream ends with the highest accepted
#    token, accepted in mark order), kill -9 mid-upload
#    (the acknowledged object intact), upstream down (503 + Retry-After for
#    writes and reads), an upstream timeout during a fenced write (503, the
#    mark stays raised, a lower token refused);
#  - multipart upload: create, parts and completion fenced (a stale part
#    and completion refused and never reaching s3rver, a later holder
#    taking an upload over), upload ids checked against bucket and key,
#    what s3rver lacks passed through, an upload across a kill -9, the age
#    sweep;
#  - an upstream answering what is not S3: 502.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
dir=$(mktemp -d /tmp/zkfence-upstream-test.XXXXXX)
. "$root/tests/proxy/upstream/lib.sh"
trap lib_cleanup EXIT

start_s3rver up || { echo "s3rver did not start"; exit 1; }
S3=$S3_up STORE=$STORE_up
curl -sf -X PUT "$S3/upb" >/dev/null || { echo "cannot create the upstream bucket"; exit 1; }
write_creds "$dir/creds" S3RVER S3RVER
base=("backend = s3" "s3.endpoint = $S3" "s3.credentials_file = $dir/creds")

# --- start-up -------------------------------------------------------------------
startup() { # startup NAME WANT_STATUS PATTERN CONFIG LINES...
  local name=$1 want=$2 pattern=$3 port
  shift 3
  port=$("$root/scripts/free-port")
  { echo "listen = 127.0.0.1:$port"; echo "data_dir = $dir/startup"; echo "credentials = $PCREDS"
    printf '%s\n' "$@"; } \
    >"$dir/startup.conf"
  timeout 60 "$bin" --config "$dir/startup.conf" >"$dir/startup.out" 2>&1
  local st=$?
  if [ $st = "$want" ] && grep -Eq -- "$pattern" "$dir/startup.out"; then ok "$name"
  else echo "exit $st, wanted $want and /$pattern/" >"$dir/expect.out"; fail "$name" "$dir/expect.out" "$dir/startup.out"; fi
}
dead=$("$root/scripts/free-port")
startup "unreachable upstream: exit 69, endpoint and call named" 69 \
  "upstream http://127.0.0.1:$dead: .*HeadBucket upb \(s3.bucket.seats\).*(connect|Connection refused)" \
  "backend = s3" "s3.endpoint = http://127.0.0.1:$dead" "s3.credentials_file = $dir/creds" \
  "s3.bucket.seats = upb"
startup "missing upstream bucket: exit 78" 78 "upstream $S3: HeadBucket nobucket.*no such bucket" \
  "${base[@]}" "s3.bucket.seats = nobucket"
write_creds "$dir/wrong" WRONGKEY whatever
startup "refused credentials: exit 78" 78 "HeadBucket upb.*refused, 403.*s3.credentials_file" \
  "backend = s3" "s3.endpoint = $S3" "s3.credentials_file = $dir/wrong" "s3.bucket.seats = upb"
chmod 644 "$dir/wrong"
startup "credentials file readable by others: exit 78" 78 "mode 0644.*chmod 600" \
  "backend = s3" "s3.endpoint = $S3" "s3.credentials_file = $dir/wrong" "s3.bucket.seats = upb"
startup "no bucket to serve: exit 78" 78 "s3.bucket.NAME" "${base[@]}"
startup "bad endpoint: exit 64 with the line" 64 "startup.conf:5: s3.endpoint" \
  "backend = s3" "s3.endpoint = ftp://x"
expect "the secret is never printed" bash -c "! grep -rq -e S3RVER -e whatever $dir/startup.out"

# --- a mapped bucket ----------------------------------------------------------------
start_proxy A "${base[@]}" "s3.bucket.seats = upb/pfx/" "s3.timeout_s = 3" \
  "bucket.open.fencing = optional" "s3.bucket.open = upb/open/" || exit 1
P=$URL_A
head -c 6291456 /dev/urandom >"$dir/big"
printf 'token 10\n' >"$dir/t10"
obj() { echo "$STORE/upb/pfx/$1._S3rver_object"; }

expect "fenced PUT (token 10) -> 200" is "$(fput "$P/seats/k1" "$dir/t10" /locks/a 10)" 200
expect "the object is in s3rver under the bucket's prefix" cmp "$dir/t10" "$(obj k1)"
expect "provenance kept upstream as zkfence metadata" grep -q '"x-amz-meta-zkfence-token": "10"' \
  "$STORE/upb/pfx/k1._S3rver_metadata.json"
expect "GET through the proxy" bash -c "[ \$(pcurl -s $P/seats/k1 -o $dir/g && cmp $dir/t10 $dir/g && echo y) = y ]"
sreq GET "$P/seats/k1" >/dev/null
expect "GET names the write: X-Fencing-Token 10" is "$(hdr X-Fencing-Token)" 10
expect "provenance is not user metadata" bash -c "! grep -qi 'x-amz-meta-zkfence' $dir/hdr"
expect "unmapped bucket refused (404 NoSuchBucket)" is "$(fput "$P/other/x" "$dir/t10" /locks/a 10)" 404
expect "... with S3's code" body_has NoSuchBucket
expect "equal token accepted" is "$(fput "$P/seats/k1" "$dir/t10" /locks/a 10)" 200
printf 'token 11\n' >"$dir/t11"
expect "higher token accepted" is "$(fput "$P/seats/k1" "$dir/t11" /locks/a 11)" 200
before=$(stat -c %Y.%s "$(obj k1)"; md5sum <"$(obj k1)")
expect "lower token refused (412 StaleFencingToken, mark 11)" \
  is "$(fput "$P/seats/k1" "$dir/big" /locks/a 9)" 412
expect "... naming the mark" body_has "<HighWaterMark>11</HighWaterMark>"
expect "the stale write never reached s3rver (object file unchanged)" \
  is "$(stat -c %Y.%s "$(obj k1)"; md5sum <"$(obj k1)")" "$before"
sreq PUT "$P/seats/forged" -T "$dir/t10" -H "X-Fencing-Lock: /locks/a" -H "X-Fencing-Token: 11" \
  -H "x-amz-meta-zkfence-token: 99999" -H "x-amz-meta-owner: me" >/dev/null
sreq GET "$P/seats/forged" >/dev/null
expect "a client's x-amz-meta-zkfence-* is not stored (provenance is the token's)" \
  is "$(hdr X-Fencing-Token)" 11
expect "user metadata kept" is "$(hdr x-amz-meta-owner)" me

expect "6 MiB PUT" is "$(fput "$P/seats/dir/big" "$dir/big" /locks/a 11)" 200
expect "6 MiB GET streams back byte-exact" bash -c "pcurl -sf $P/seats/dir/big | cmp - $dir/big"
# A streamed body wakes its reader once a batch has arrived (64 KiB,
# backend/s3/transfer.c), and at its end: a body just over the inline size
# (64 KiB + 1), one whose tail is shorter than a batch, a range of that
# kind, and a slow reader all get every byte.
head -c 65537 /dev/urandom >"$dir/s64"
head -c 1049576 /dev/urandom >"$dir/s1m"
expect "64 KiB + 1 and 1 MiB + 1000 PUTs" \
  is "$(fput "$P/seats/s64" "$dir/s64" /locks/a 11)$(fput "$P/seats/s1m" "$dir/s1m" /locks/a 11)" 200200
expect "... the 64 KiB + 1 GET streams back byte-exact" bash -c "pcurl -sf $P/seats/s64 | cmp - $dir/s64"
expect "... the 1 MiB + 1000 GET too" bash -c "pcurl -sf $P/seats/s1m | cmp - $dir/s1m"
expect "... a range of 100001 bytes from byte 7" bash -c \
  "pcurl -sf -r 7-100007 $P/seats/s1m | cmp - <(tail -c +8 $dir/s1m | head -c 100001)"
expect "... a reader at 256 KiB/s gets every byte" bash -c \
  "pcurl -sf --limit-rate 256K $P/seats/s1m | cmp - $dir/s1m"
expect "range GET (206, forwarded)" bash -c \
  "pcurl -sf -r 1000000-1999999 $P/seats/dir/big | cmp - <(tail -c +1000001 $dir/big | head -c 1000000)"
expect "suffix range GET" bash -c "pcurl -sf -r -1000 $P/seats/dir/big | cmp - <(tail -c 1000 $dir/big)"
expect "unsatisfiable range: 416 passed through" is "$(sreq GET "$P/seats/k1" -r 500-600)" 416
expect "HEAD: size and ETag" bash -c "pcurl -sfI $P/seats/dir/big | grep -qi 'content-length: 6291456'"
expect "missing key: 404 NoSuchKey" is "$(sreq GET "$P/seats/nokey")" 404
expect "listing strips the upstream prefix" bash -c \
  "pcurl -s '$P/seats?list-type=2' | grep -q '<Key>dir/big</Key>' && ! pcurl -s '$P/seats?list-type=2' | grep -q pfx/"
expect "listing with a delimiter: common prefixes" bash -c \
  "pcurl -s '$P/seats?delimiter=%2F&list-type=2' | grep -q '<Prefix>dir/</Prefix>'"
for i in 1 2 3 4 5; do fput "$P/seats/page/k$i" "$dir/t10" /locks/a 11 >/dev/null; done
expect "paginated listing (max-keys 2, continuation)" bash -c "
  t=\$(pcurl -s '$P/seats?list-type=2&max-keys=2&prefix=page%2F' | sed -n 's/.*<NextContinuationToken>\(.*\)<\/NextContinuationToken>.*/\1/p')
  pcurl -s \"$P/seats?continuation-token=\$t&list-type=2&max-keys=2&prefix=page%2F\" | grep -q '<Key>page/k3</Key><' "
expect "listing resumes past a common prefix" bash -c \
  "pcurl -s '$P/seats?delimiter=%2F&marker=dir%2F' | grep -q '<Key>k1</Key>' && ! pcurl -s '$P/seats?delimiter=%2F&marker=dir%2F' | grep -q '<Prefix>dir/</Prefix>'"
expect "DELETE" is "$(sreq DELETE "$P/seats/page/k5" -H 'X-Fencing-Lock: /locks/a' -H 'X-Fencing-Token: 11')" 204
expect "... gone from s3rver" test ! -e "$(obj page/k5)"
expect "CopyObject (fenced destination)" is "$(sreq PUT "$P/seats/copy" -H 'x-amz-copy-source: /seats/k1' \
  -H 'X-Fencing-Lock: /locks/a' -H 'X-Fencing-Token: 11')" 200
expect "... copied upstream" cmp "$(obj k1)" "$(obj copy)"
expect "deleting a mapped bucket is refused (403)" is "$(sreq DELETE "$P/seats")" 403

# --- a body signed with its SHA-256: no MD5 computed, the store's ETag ----------------------
# hput URL FILE HASH [CURL ARGS...]: a fenced PUT (lock /locks/a, token 11)
# whose x-amz-content-sha256 is HASH (curl signs the header's value as the
# payload hash); prints the status.
hput() {
  local url=$1 f=$2 h=$3
  shift 3
  curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: $h" \
    -H 'X-Fencing-Lock: /locks/a' -H 'X-Fencing-Token: 11' -s -o "$dir/body" -D "$dir/hdr" \
    -w '%{http_code}' -X PUT -T "$f" "$@" "$url"
}
sha() { sha256sum <"$1" | cut -d' ' -f1; }
md5() { md5sum <"$1" | cut -d' ' -f1; }
md5b64() { openssl dgst -md5 -binary <"$1" | base64; }
expect "PUT signed with its SHA-256 -> 200" is "$(hput "$P/seats/h1" "$dir/big" "$(sha "$dir/big")")" 200
expect "... its ETag the store's (s3rver: the MD5)" is "$(hdr ETag)" "\"$(md5 "$dir/big")\""
expect "... byte-exact upstream" cmp "$dir/big" "$(obj h1)"
expect "a body other than the signed SHA-256 -> 400 XAmzContentSHA256Mismatch" \
  is "$(hput "$P/seats/h2" "$dir/big" "$(sha "$dir/t10")")" 400
expect "... naming it" body_has XAmzContentSHA256Mismatch
expect "... and nothing reached s3rver" test ! -e "$(obj h2)"
expect "signed SHA-256 with a wrong Content-MD5 -> 400 BadDigest (the MD5 still checked)" \
  is "$(hput "$P/seats/h3" "$dir/t10" "$(sha "$dir/t10")" -H "Content-MD5: $(md5b64 "$dir/t11")")" 400
expect "... naming it" body_has BadDigest
expect "... and nothing reached s3rver" test ! -e "$(obj h3)"

# --- multipart upload, fenced on every step ----------------------------------------------
# s3rver has CreateMultipartUpload, UploadPart and CompleteMultipartUpload;
# it answers ListParts and AbortMultipartUpload 405, ListMultipartUploads
# and UploadPartCopy 501, passed through as such.
mpu_create() { # mpu_create KEY LOCK TOKEN: prints the upload id
  sreq POST "$P/seats/$1?uploads=" -H "X-Fencing-Lock: $2" -H "X-Fencing-Token: $3" >/dev/null
  sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' "$dir/body"
}
part() { # part KEY ID N FILE [CURL ARGS...]: prints the status; ETag in $dir/hdr
  local k=$1 id=$2 n=$3 f=$4
  shift 4
  sreq PUT "$P/seats/$k?partNumber=$n&uploadId=$id" -T "$f" "$@"
}
complete_xml() { # complete_xml N:ETAG...: the part list
  printf '<CompleteMultipartUpload>'
  local p
  for p in "$@"; do printf '<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>' "${p%%:*}" "${p#*:}"; done
  printf '</CompleteMultipartUpload>'
}
upparts() { find "$STORE/upb" -path '*uploads*' -type f -name "$1" | wc -l; }
head -c 5242880 /dev/urandom >"$dir/p1"
head -c 777 /dev/urandom >"$dir/p2"
cat "$dir/p1" "$dir/p2" >"$dir/p12"
id=$(mpu_create mp /locks/m 20)
expect "CreateMultipartUpload (token 20): the proxy's own upload id" \
  bash -c "[[ '$id' =~ ^[0-9a-f]{32}\$ ]]"
expect "... recorded in the data directory" test -f "$DATA_A/s3-uploads/$id"
expect "... and not s3rver's id (never shown to the client)" \
  bash -c "! ls -a $STORE/upb/*uploads* 2>/dev/null | grep -q '$id'"
expect "UploadPart 1 (5 MiB, no headers: fenced with the create's record)" is "$(part mp "$id" 1 "$dir/p1")" 200
e1=$(hdr ETag)
expect "... its ETag is the part's MD5" is "$e1" "\"$(md5sum <"$dir/p1" | cut -c1-32)\""
expect "UploadPart 2 (the last, small)" is "$(part mp "$id" 2 "$dir/p2")" 200
e2=$(hdr ETag)
expect "... both parts reached s3rver's upload" is "$(( $(upparts 1) + $(upparts 2) ))" 2
expect "another bucket cannot name the upload (404 NoSuchUpload)" \
  is "$(sreq PUT "$P/open/mp?partNumber=3&uploadId=$id" -T "$dir/p2")" 404
expect "... with S3's code" body_has NoSuchUpload
expect "another key cannot name it either (404)" is "$(part other "$id" 3 "$dir/p2")" 404
upid=$(basename "$(dirname "$(find "$STORE/upb" -path '*uploads*' -type f -name 1 | head -1)")")
expect "s3rver's own id is no upload of the proxy (404)" is "$(part mp "$upid" 3 "$dir/p2")" 404
expect "ListParts: s3rver lacks it, its 405 passed through" is "$(sreq GET "$P/seats/mp?uploadId=$id")" 405
expect "ListMultipartUploads: s3rver lacks it, its 501 passed through" \
  is "$(sreq GET "$P/seats?uploads=")" 501
expect "UploadPartCopy: s3rver lacks it, its 501 passed through" \
  is "$(part mp "$id" 4 /dev/null -X PUT -H 'x-amz-copy-source: /seats/k1')" 501
expect "a write with token 21 raises the mark" is "$(fput "$P/seats/bump" "$dir/t10" /locks/m 21)" 200
expect "a part fenced by the create's token 20 is now stale (412)" is "$(part mp "$id" 3 "$dir/p2")" 412
expect "... and never reached s3rver" is "$(upparts 3)" 0
complete_xml "1:$e1" "2:$e2" >"$dir/c.xml"
expect "a completion fenced by token 20: 412" \
  is "$(sreq POST "$P/seats/mp?uploadId=$id" --data-binary @"$dir/c.xml")" 412
expect "... no object in s3rver" test ! -e "$(obj mp)"
expect "a part with a stale token of its own (19): 412" \
  is "$(part mp "$id" 3 "$dir/p2" -H 'X-Fencing-Lock: /locks/m' -H 'X-Fencing-Token: 19')" 412
expect "a part naming another lock: 400 InvalidFencingLock" \
  is "$(part mp "$id" 3 "$dir/p2" -H 'X-Fencing-Lock: /locks/x' -H 'X-Fencing-Token: 99')" 400
expect "the holder of token 21 takes the upload over: its completion 200" \
  is "$(sreq POST "$P/seats/mp?uploadId=$id" --data-binary @"$dir/c.xml" \
    -H 'X-Fencing-Lock: /locks/m' -H 'X-Fencing-Token: 21')" 200
expect "... the object in s3rver is the two parts" cmp "$dir/p12" "$(obj mp)"
expect "... and GET through the proxy streams it back" bash -c "pcurl -sf $P/seats/mp | cmp - $dir/p12"
expect "... the upload's record is gone" test ! -e "$DATA_A/s3-uploads/$id"
expect "a part after the completion: 404 NoSuchUpload" is "$(part mp "$id" 3 "$dir/p2")" 404
expect "a completion again: 404 NoSuchUpload" \
  is "$(sreq POST "$P/seats/mp?uploadId=$id" --data-binary @"$dir/c.xml")" 404
id2=$(mpu_create mp2 /locks/m 21)
expect "AbortMultipartUpload: s3rver lacks it, its 405 passed through" \
  is "$(sreq DELETE "$P/seats/mp2?uploadId=$id2")" 405
expect "... the upload stays completable (its record kept)" test -f "$DATA_A/s3-uploads/$id2"
expect "an upload survives a restart (kill -9)" is "$(part mp2 "$id2" 1 "$dir/p2")" 200
e3=$(hdr ETag)
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null
run_proxy A || exit 1
complete_xml "1:$e3" >"$dir/c2.xml"
expect "... completed after the restart" \
  is "$(sreq POST "$P/seats/mp2?uploadId=$id2" --data-binary @"$dir/c2.xml")" 200
expect "... byte-exact in s3rver" cmp "$dir/p2" "$(obj mp2)"
expect "a stale create (token 20 < mark 21): 412, nothing upstream" \
  is "$(sreq POST "$P/seats/mp3?uploads=" -H 'X-Fencing-Lock: /locks/m' -H 'X-Fencing-Token: 20')" 412

# A part of up to 8 MiB waits for its decision in memory, a larger one moves
# to a spool file when it outgrows that, and the parts and puts staged in
# memory reserve at most 32 MiB (backend/s3/s3core.h): of 5 concurrent 8 MiB
# parts one is staged in a file. Every one arrives byte-exact.
staging() { ls -l "/proc/$PID_A/fd" 2>/dev/null | grep -q "$DATA_A/tmp/"; }
head -c 8388608 /dev/urandom >"$dir/p8"
head -c 8388609 /dev/urandom >"$dir/p8p"
id4=$(mpu_create mp4 /locks/m 21)
expect "an 8 MiB part (staged in memory) -> 200" is "$(part mp4 "$id4" 1 "$dir/p8")" 200
e41=$(hdr ETag)
expect "... its ETag is the part's MD5" is "$e41" "\"$(md5sum <"$dir/p8" | cut -c1-32)\""
expect "an 8 MiB + 1 part (moved to a file at 8 MiB) -> 200" is "$(part mp4 "$id4" 2 "$dir/p8p")" 200
e42=$(hdr ETag)
memparts=()
for i in 3 4 5 6 7; do
  pcurl -s -o /dev/null -w '%{http_code}' -T "$dir/p8" --limit-rate 2M \
    "$P/seats/mp4?partNumber=$i&uploadId=$id4" >"$dir/mpart$i.status" &
  memparts+=($!)
done
expect "5 concurrent 8 MiB parts: one over the memory budget, staged in a file" wait_for staging
wait "${memparts[@]}"
expect "... all 200" is "$(cat "$dir"/mpart*.status | tr -d '\n')" 200200200200200
e8=\"$(md5sum <"$dir/p8" | cut -c1-32)\"
complete_xml "1:$e41" "2:$e42" "3:$e8" "4:$e8" "5:$e8" "6:$e8" "7:$e8" >"$dir/c4.xml"
expect "... the upload completes" \
  is "$(sreq POST "$P/seats/mp4?uploadId=$id4" --data-binary @"$dir/c4.xml")" 200
cat "$dir/p8" "$dir/p8p" "$dir/p8" "$dir/p8" "$dir/p8" "$dir/p8" "$dir/p8" >"$dir/p4all"
expect "... byte-exact in s3rver" cmp "$dir/p4all" "$(obj mp4)"

# --- a token overtaken while its body streams ------------------------------------------
printf 'token 31\n' >"$dir/t31"
head -c 3000000 /dev/urandom >"$dir/slow"
curl -s -o "$dir/slow.body" -w '%{http_code}' -T "$dir/slow" --limit-rate 1M \
  --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --user "$AK:$SK" \
  -H "X-Fencing-Lock: /locks/b" -H "X-Fencing-Token: 30" "$P/seats/race" >"$dir/slow.status" &
slow=$!
wait_for staging || echo "(no staging file seen)"
expect "a higher token while the lower one's body streams: 200" \
  is "$(fput "$P/seats/race" "$dir/t31" /locks/b 31)" 200
wait $slow
expect "the overtaken write is refused at its decision (412)" is "$(cat "$dir/slow.status")" 412
expect "... and never reached s3rver" cmp "$dir/t31" "$(obj race)"

# --- bodies staged in memory, and their budget ----------------------------------------------
# A PutObject body of up to 1 MiB waits for its decision in memory; a larger
# one moves to a spool file when it outgrows that; the puts staged in memory
# reserve at most 32 MiB (backend/s3/s3core.h), so of 33 concurrent 1 MiB
# PUTs one is staged in a file.
head -c 1048576 /dev/urandom >"$dir/m1"
head -c 1048577 /dev/urandom >"$dir/m1p"
expect "1 MiB PUT (staged in memory) -> 200" is "$(fput "$P/seats/m1" "$dir/m1" /locks/a 11)" 200
expect "... byte-exact upstream" cmp "$dir/m1" "$(obj m1)"
expect "1 MiB + 1 PUT (moved to a file at 1 MiB) -> 200" \
  is "$(fput "$P/seats/m1p" "$dir/m1p" /locks/a 11)" 200
expect "... byte-exact upstream" cmp "$dir/m1p" "$(obj m1p)"
memput=()
for i in $(seq 1 33); do
  curl -s -o /dev/null -w '%{http_code}' -T "$dir/m1" --limit-rate 200K \
    --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --user "$AK:$SK" \
    -H "X-Fencing-Lock: /locks/a" -H "X-Fencing-Token: 11" "$P/seats/mem$i" >"$dir/mem$i.status" &
  memput+=($!)
done
expect "33 concurrent 1 MiB PUTs: one over the memory budget, staged in a file" wait_for staging
wait "${memput[@]}"
expect "... all 200" is "$(cat "$dir"/mem*.status | tr -d '\n')" "$(printf '200%.0s' $(seq 1 33))"
expect "... all byte-exact upstream" bash -c "for i in \$(seq 1 33); do cmp $dir/m1 $STORE/upb/pfx/mem\$i._S3rver_object || exit 1; done"

# --- concurrent writers of one lock ------------------------------------------------------
writers=()
for t in 41 42 43 44 45 46 47 48; do
  printf 'token %s\n' $t >"$dir/c$t"
  curl -s -o /dev/null -w '%{http_code}' -T "$dir/c$t" --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --user "$AK:$SK" -H "X-Fencing-Lock: /locks/c" -H "X-Fencing-Token: $t" "$P/seats/conc" \
    >"$dir/c$t.status" &
  writers+=($!)
done
wait "${writers[@]}"
top=0
for t in 41 42 43 44 45 46 47 48; do
  [ "$(cat "$dir/c$t.status")" = 200 ] && top=$t
done
expect "concurrent writers: the highest token was accepted" is "$top" 48
expect "... and is what s3rver holds" cmp "$dir/c48" "$(obj conc)"
expect "... accepted in mark order (audit log)" bash -c "
  grep '\"lock\":\"/locks/c\"' $DATA_A/audit.log | grep accepted | sed 's/.*\"token\":\"\([0-9]*\)\".*/\1/' >$dir/order
  sort -n -c $dir/order"

# --- kill -9 mid-upload -------------------------------------------------------------------
printf 'token 50\n' >"$dir/t50"
expect "acknowledged write (token 50)" is "$(fput "$P/seats/k9" "$dir/t50" /locks/d 50)" 200
curl -s -o /dev/null -T "$dir/slow" --limit-rate 500K --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  --user "$AK:$SK" -H "X-Fencing-Lock: /locks/d" -H "X-Fencing-Token: 51" "$P/seats/k9" &
slow=$!
wait_for staging || echo "(no staging file seen)"
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null
wait $slow
run_proxy A || exit 1
expect "after kill -9 mid-upload: the acknowledged object intact" \
  bash -c "pcurl -sf $P/seats/k9 | cmp - $dir/t50"
expect "... in s3rver too" cmp "$dir/t50" "$(obj k9)"

# --- unfinished uploads swept by age ----------------------------------------------------------
start_proxy S "${base[@]}" "s3.bucket.seats = upb/sw/" "multipart_max_age = 1s" || exit 1
sreq POST "$URL_S/seats/old?uploads=" -H 'X-Fencing-Lock: /locks/s' -H 'X-Fencing-Token: 1' >/dev/null
sid=$(sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' "$dir/body")
expect "an upload older than multipart_max_age is swept (its record removed)" \
  wait_for test ! -e "$DATA_S/s3-uploads/$sid"
expect "... and cannot be finished any more (404 NoSuchUpload)" \
  is "$(sreq PUT "$URL_S/seats/old?partNumber=1&uploadId=$sid" -T "$dir/p2")" 404
expect "... counted" bash -c "pcurl -s $URL_S/_zkfence/metrics | grep -q '^zkfence_multipart_uploads_swept_total [1-9]'"

# --- upstream timeout during a fenced write ---------------------------------------------------
s3pid=$(cat "$dir/up/s3rver.pid")
kill -STOP "$s3pid"
printf 'token 61\n' >"$dir/t61"
expect "upstream stalled: the fenced write gets 503" is "$(fput "$P/seats/k6" "$dir/t61" /locks/e 61)" 503
expect "... with Retry-After" test -n "$(hdr Retry-After)"
expect "... saying the outcome is unknown" body_has "outcome is unknown"
expect "the mark stays raised (61)" bash -c "pcurl -s $P/_zkfence/marks | grep -q '\"lock\":\"/locks/e\",\"mark\":\"61\"'"
expect "upstream stalled: a read gets 503 + Retry-After" bash -c \
  "[ \$(pcurl -s -o /dev/null -w '%{http_code}' $P/seats/k1) = 503 ]"
kill -CONT "$s3pid"
printf 'token 60\n' >"$dir/t60"
expect "after the timeout, a lower token is refused (412)" \
  is "$(fput "$P/seats/k6" "$dir/t60" /locks/e 60)" 412
expect "... and the same token is accepted" is "$(fput "$P/seats/k6" "$dir/t61" /locks/e 61)" 200

# --- upstream down ---------------------------------------------------------------------------
"$root/scripts/s3rver" stop --data-dir "$dir/up" >/dev/null
expect "upstream down: a fenced write gets 503" is "$(fput "$P/seats/k1" "$dir/t11" /locks/a 12)" 503
expect "... with Retry-After" test -n "$(hdr Retry-After)"
expect "upstream down: a read gets 503" is "$(sreq GET "$P/seats/k1")" 503
expect "... with Retry-After" test -n "$(hdr Retry-After)"
expect "upstream down: a listing gets 503" is "$(sreq GET "$P/seats?list-type=2")" 503
port=${S3##*:}
"$root/scripts/s3rver" start --port "$port" --data-dir "$dir/up" >/dev/null
expect "upstream back: reads work again" bash -c "pcurl -sf $P/seats/k1 | cmp - $dir/t11"

# --- what a PutObject sends upstream ---------------------------------------------------------
# A store that records the requests (recorder.py): signed with the body's
# SHA-256, the PUT carries that hash and no Content-MD5, and the client gets
# the store's ETag (the body's MD5 when the store names none); sent
# UNSIGNED-PAYLOAD, the PUT carries the MD5 the proxy computed.
rport=$("$root/scripts/free-port")
python3 "$root/tests/proxy/upstream/recorder.py" "$rport" "$dir/rec" store-etag-1 >"$dir/rec.out" 2>&1 &
proxy_pids+=($!)
wait_for curl -sf "http://127.0.0.1:$rport/"
start_proxy R "backend = s3" "s3.endpoint = http://127.0.0.1:$rport" \
  "s3.credentials_file = $dir/creds" "s3.unmapped = same" || exit 1
sent() { tail -1 "$dir/rec" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', '-'))"; }
expect "PUT signed with its SHA-256 (recorded) -> 200" \
  is "$(hput "$URL_R/recb/k" "$dir/big" "$(sha "$dir/big")")" 200
expect "... the client gets the store's ETag" is "$(hdr ETag)" '"store-etag-1"'
expect "... sent with the body's SHA-256 as its signed payload hash" \
  is "$(sent x-amz-content-sha256)" "$(sha "$dir/big")"
expect "... and no Content-MD5" is "$(sent content-md5)" -
expect "... byte-exact" cmp "$dir/big" "$dir/rec.body"
expect "a store that names no ETag: the client gets the MD5" \
  is "$(hput "$URL_R/recb/noetag" "$dir/t10" "$(sha "$dir/t10")")-$(hdr ETag)" "200-\"$(md5 "$dir/t10")\""
expect "PUT sent UNSIGNED-PAYLOAD (recorded) -> 200" is "$(fput "$URL_R/recb/u" "$dir/t11" /locks/a 11)" 200
expect "... the client gets the MD5" is "$(hdr ETag)" "\"$(md5 "$dir/t11")\""
expect "... sent UNSIGNED-PAYLOAD with the Content-MD5" \
  is "$(sent x-amz-content-sha256) $(sent content-md5)" \
  "UNSIGNED-PAYLOAD $(md5b64 "$dir/t11")"

# Writes of one lock with the mark's token go upstream together; a raise
# goes alone. Two PUTs with token 12 (the mark, set by the first) are held
# by the store until both are in flight: sent one at a time, the first
# would wait 20 s and the peak would be 1.
expect "a lock's first write -> 200" is "$(fput "$URL_R/recb/h0" "$dir/t10" /locks/h 12)" 200
hold_put() { pcurl -s -o /dev/null -w '%{http_code}' -X PUT -T "$dir/t10" -H "X-Fencing-Lock: /locks/h" \
  -H "X-Fencing-Token: 12" "$URL_R/recb/$1" >"$dir/$1.st"; }
t0=$SECONDS
hold_put hold-a &
ha=$!
hold_put hold-b &
hb=$!
wait "$ha" "$hb"
expect "two writes with the mark's token, held by the store -> 200 and 200" \
  is "$(cat "$dir/hold-a.st") $(cat "$dir/hold-b.st")" "200 200"
expect "... both were in flight upstream at once" is "$(cat "$dir/rec.peak")" 2
expect "... without waiting for the store's 20 s" test $((SECONDS - t0)) -lt 15

# --- an upstream that does not speak S3 -------------------------------------------------------
mkdir -p "$dir/www"
wport=$("$root/scripts/free-port")
python3 -m http.server --bind 127.0.0.1 "$wport" --directory "$dir/www" >"$dir/www.log" 2>&1 &
proxy_pids+=($!)
wait_for curl -sf "http://127.0.0.1:$wport/"
start_proxy W "backend = s3" "s3.endpoint = http://127.0.0.1:$wport" \
  "s3.credentials_file = $dir/creds" "s3.unmapped = same" || exit 1
expect "garbage from the upstream: 502 BadGateway" is "$(sreq GET "$URL_W/")" 502
expect "... naming it" body_has "not S3"

kill -TERM "$PID_A"
wait "$PID_A"
expect "clean shutdown (exit 0)" test $? -eq 0
finish
