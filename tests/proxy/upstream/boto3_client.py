"""boto3 (Debian's python3-boto3, run with /usr/bin/python3) against a
zkfence-proxy: buckets, fenced writes through user metadata, a stale token
refused with 412, listings with pagination, managed transfers below the
multipart threshold, and upload_fileobj of 20 MiB (multipart) with the token
in its metadata, a stale holder's refused. Prints "ok NAME" per check; exits 1 on the first
failure. Usage: boto3_client.py URL"""
import base64
import hashlib
import io
import os
import socket
import sys
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

url = sys.argv[1]
s3 = boto3.client(
    "s3",
    endpoint_url=url,
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)


def check(name, cond):
    if not cond:
        print("FAIL boto3 " + name)
        sys.exit(1)
    print("ok   boto3 " + name)


def status_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    return 200, ""


blob = os.urandom(200000)
fence = {"fencing-lock": "/locks/boto3", "fencing-token": "7"}
s3.create_bucket(Bucket="boto-fenced")
s3.create_bucket(Bucket="boto-open")
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check("list_buckets", "boto-fenced" in names)
s3.put_object(Bucket="boto-fenced", Key="obj", Body=blob, Metadata=dict(fence, owner="me"))
got = s3.get_object(Bucket="boto-fenced", Key="obj")
check("put/get fenced object byte-exact", got["Body"].read() == blob)
check("user metadata kept, fencing metadata not stored",
      got["Metadata"].get("owner") == "me" and "fencing-token" not in got["Metadata"])
# GetObject's response-* parameters override the stored headers, signed in
# the header or in a presigned URL (a download link that names the file).
over = s3.get_object(Bucket="boto-fenced", Key="obj", ResponseContentType="application/x-test",
                     ResponseContentDisposition='attachment; filename="a b.bin"',
                     ResponseCacheControl="no-store")
check("response-* overrides on GetObject",
      over["ContentType"] == "application/x-test" and over["CacheControl"] == "no-store"
      and over["ContentDisposition"] == 'attachment; filename="a b.bin"'
      and over["Body"].read() == blob)
presigner = boto3.client(  # Debian's boto3 presigns with SigV2 unless told
    "s3", endpoint_url=url, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
link = presigner.generate_presigned_url("get_object", Params={
    "Bucket": "boto-fenced", "Key": "obj", "ResponseContentDisposition": "attachment"})
with urllib.request.urlopen(link) as resp:
    check("response-content-disposition in a presigned URL",
          resp.headers.get("Content-Disposition") == "attachment" and resp.read() == blob)
# Virtual-hosted style (the bucket in Host: BUCKET.localhost, `domain`'s
# default): boto3's own addressing, the names resolved to the proxy here.
_gai = socket.getaddrinfo


def _gai_local(host, *args, **kw):
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return _gai(host, *args, **kw)


socket.getaddrinfo = _gai_local
if url.startswith("http://"):
    vs3 = boto3.client(
        "s3", endpoint_url="http://localhost:" + url.rsplit(":", 1)[1],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"},
                      retries={"max_attempts": 1}))
    vs3.put_object(Bucket="boto-open", Key="vhost/k", Body=b"virtual")
    check("virtual-hosted PutObject lands in its bucket",
          s3.get_object(Bucket="boto-open", Key="vhost/k")["Body"].read() == b"virtual")
    check("virtual-hosted GetObject and ListObjectsV2",
          vs3.get_object(Bucket="boto-open", Key="vhost/k")["Body"].read() == b"virtual"
          and vs3.list_objects_v2(Bucket="boto-open", Prefix="vhost/")["KeyCount"] == 1)
    vs3.delete_object(Bucket="boto-open", Key="vhost/k")
    check("virtual-hosted DeleteObject deletes the key, not a bucket",
          status_of(lambda: s3.head_object(Bucket="boto-open", Key="vhost/k"))[0] == 404
          and "boto-open" in [b["Name"] for b in s3.list_buckets()["Buckets"]])
socket.getaddrinfo = _gai
# A flexible checksum is checked and echoed, as S3 does.
ck = s3.put_object(Bucket="boto-open", Key="checksummed", Body=b"sum me",
                   ChecksumAlgorithm="SHA256")
check("PutObject echoes its checked x-amz-checksum-sha256",
      ck.get("ChecksumSHA256") == base64.b64encode(hashlib.sha256(b"sum me").digest()).decode())
s3.delete_object(Bucket="boto-open", Key="checksummed")
s3.put_object(Bucket="boto-fenced", Key="empty-meta", Body=b"e",
              Metadata=dict(fence, empty="", full="x"))
got = s3.head_object(Bucket="boto-fenced", Key="empty-meta")["Metadata"]
check("empty user metadata kept empty", got.get("empty") == "" and got.get("full") == "x")
st = status_of(lambda: s3.put_object(Bucket="boto-fenced", Key="obj", Body=b"x"))
check("no token: 428 FencingTokenRequired", st == (428, "FencingTokenRequired"))
st = status_of(lambda: s3.put_object(
    Bucket="boto-fenced", Key="obj", Body=b"stale",
    Metadata={"fencing-lock": "/locks/boto3", "fencing-token": "6"}))
check("stale token: 412 StaleFencingToken", st == (412, "StaleFencingToken"))
check("stale body did not land",
      s3.get_object(Bucket="boto-fenced", Key="obj")["Body"].read() == blob)
rng = s3.get_object(Bucket="boto-fenced", Key="obj", Range="bytes=1000-1999")
check("range GET", rng["Body"].read() == blob[1000:2000])
for i in range(5):
    s3.put_object(Bucket="boto-fenced", Key="page/k%d" % i, Body=b"p", Metadata=fence)
pages = s3.get_paginator("list_objects_v2").paginate(
    Bucket="boto-fenced", Prefix="page/", PaginationConfig={"PageSize": 2})
keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
check("paginated list_objects_v2", keys == ["page/k%d" % i for i in range(5)])
small = TransferConfig(multipart_threshold=64 * 1024 * 1024)
s3.upload_fileobj(io.BytesIO(blob), "boto-open", "up/blob", Config=small)
out = io.BytesIO()
s3.download_fileobj("boto-open", "up/blob", out)
check("upload_fileobj/download_fileobj (optional bucket)", out.getvalue() == blob)
s3.delete_object(Bucket="boto-open", Key="up/blob")
check("delete_object", s3.list_objects_v2(Bucket="boto-open").get("KeyCount") == 0)
st = status_of(lambda: s3.head_object(Bucket="boto-open", Key="up/blob"))
check("head of a deleted key: 404", st[0] == 404)
big = os.urandom(20 << 20)
s3.upload_fileobj(io.BytesIO(big), "boto-fenced", "big", ExtraArgs={"Metadata": fence})
out = io.BytesIO()
s3.download_fileobj("boto-fenced", "big", out)
check("upload_fileobj of 20 MiB (multipart, token in the metadata) byte-exact",
      out.getvalue() == big)
try:
    s3.upload_fileobj(io.BytesIO(b"s" * (20 << 20)), "boto-fenced", "big",
                      ExtraArgs={"Metadata": {"fencing-lock": "/locks/boto3",
                                              "fencing-token": "6"}})
    stale = ""
except Exception as e:  # S3UploadFailedError wraps the ClientError
    stale = str(e)
check("a stale holder's multipart upload: 412 StaleFencingToken", "StaleFencingToken" in stale)
check("... and absent", s3.get_object(Bucket="boto-fenced", Key="big")["Body"].read() == big)
print("boto3 checks passed")
