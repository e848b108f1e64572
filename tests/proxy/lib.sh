# Shell helpers for the proxy's shell suites (sourced): credentials for a
# proxy started by the test, and curl that signs its requests.
#
#   make_credentials FILE          writes a credentials file (mode 0600)
#                                  with an admin key ("* admin"); sets
#                                  ZKP_AK and ZKP_SK to its id and secret
#   scurl ARGS...                  curl signing with that key (SigV4, region
#                                  us-east-1, service s3). curl 7.88 does not
#                                  send x-amz-content-sha256, which the
#                                  proxy (as S3) requires: UNSIGNED-PAYLOAD
#                                  unless the caller gives one.

make_credentials() {
  local file=$1
  ZKP_AK=AKTEST$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
  ZKP_SK=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '# written by the test\nkey %s %s\ngrant %s * admin\n' \
    "$ZKP_AK" "$ZKP_SK" "$ZKP_AK" >"$file")
  export ZKP_AK ZKP_SK
}

scurl() {
  local sha=(-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD') a
  for a in "$@"; do
    case $a in x-amz-content-sha256:*) sha=() ;; esac
  done
  curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ZKP_AK:$ZKP_SK" "${sha[@]}" "$@"
}
