#!/usr/bin/env python3
"""boto3 and the aws cli against a real zkfence-proxy.

    sdk_test.py boto3    (ctest proxy_boto3)
    sdk_test.py aws      (ctest proxy_cli_aws_conditional)

boto3: the fencing headers are added by an event hook ('before-sign.s3.<Op>', so
they are signed like any header), which is how an unmodified SDK sends
them: fenced get_object, head_object and list_objects_v2 (lower, equal,
higher tokens; 412 StaleFencingToken naming the mark), the issue's
lost-write sequence with fenced reads, and conditional requests (put_object
IfNoneMatch/IfMatch as parameters when this botocore knows them, else as
headers through the same hook; get_object IfMatch/IfNoneMatch/
IfModifiedSince; copy_object CopySourceIfMatch).

aws cli: what it can send, the conditional options of s3api get-object,
head-object, copy-object and (where this aws cli has them) put-object. It
has no way to add a header of our own, so its fenced writes go through
--metadata (tests/proxy/cli_test.sh) and it cannot make a fenced read.

Exits 77 (ctest: skipped) when the tool is not installed, 1 on any failure.
"""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MODE = sys.argv[1] if len(sys.argv) > 1 else "boto3"
if MODE == "boto3":
    try:
        import boto3
        import botocore
        from botocore.config import Config
        from botocore.exceptions import ClientError
    except ImportError:
        print("boto3 not installed: skipped")
        sys.exit(77)
elif MODE == "aws":
    if shutil.which("aws") is None:
        print("aws cli not installed: skipped")
        sys.exit(77)
else:
    sys.exit("usage: sdk_test.py boto3|aws")

BIN = os.path.join(os.environ.get("ZKFENCE_BIN_DIR", "build/bin"), "zkfence-proxy")
failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print("ok   " + name)
    else:
        failures += 1
        print("FAIL " + name + (": " + str(detail) if detail else ""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The proxy authenticates (as by default): a fresh key with admin rights,
# in a credentials file only this user may read; boto3 and the aws cli sign
# with it.
AK = "AKSDK" + os.urandom(6).hex().upper()
SK = os.urandom(20).hex()


@contextlib.contextmanager
def proxy():
    """A zkfence-proxy on a free port with its own data directory and
    credentials (the key AK); stopped by its pid (SIGTERM, then a bounded
    wait)."""
    with tempfile.TemporaryDirectory(prefix="zkfence-boto3-") as d:
        port = free_port()
        creds = os.path.join(d, "credentials")
        fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, ("key %s %s\ngrant %s * admin\n" % (AK, SK, AK)).encode())
        os.close(fd)
        conf = os.path.join(d, "proxy.conf")
        with open(conf, "w") as f:
            f.write("listen = 127.0.0.1:%d\ndata_dir = %s/data\n" % (port, d))
            f.write("credentials = %s\n" % creds)
            f.write("bucket.boto-open.fencing = optional\n")
            f.write("bucket.aws-open.fencing = optional\n")
        log = open(os.path.join(d, "proxy.log"), "w")
        p = subprocess.Popen([BIN, "--config", conf], stdout=log, stderr=log)
        url = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/_zkfence/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or p.poll() is not None:
                    p.kill()
                    p.wait()
                    sys.exit("proxy did not start: " + open(log.name).read())
                time.sleep(0.05)  # polling interval of the health wait
        try:
            yield url, d
        finally:
            p.terminate()
            p.wait(timeout=20)
            log.close()


def client(url):
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


# What the hook adds to the next requests: fencing headers and, for
# botocores that predate conditional writes, the write's conditions.
extra = {}


def add_headers(request, **kwargs):
    for name, value in extra.items():
        request.headers[name] = value


@contextlib.contextmanager
def fenced(lock, token, **headers):
    extra.update({"X-Fencing-Lock": lock, "X-Fencing-Token": str(token)}, **headers)
    try:
        yield
    finally:
        extra.clear()


def error_of(fn, *args, **kw):
    """(HTTP status, S3 error code, error dict) of a call expected to fail,
    or (200, None, None) if it succeeded."""
    try:
        fn(*args, **kw)
        return 200, None, None
    except ClientError as e:
        err = e.response.get("Error", {})
        return e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Code"), err


def marks(url):
    """The proxy's marks, read with the admin key (the list is admin only):
    the request signed by botocore's own SigV4 signer."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="GET", url=url + "/_zkfence/marks",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
    with urllib.request.urlopen(urllib.request.Request(req.url, headers=dict(req.headers))) as r:
        return {m["lock"]: int(m["mark"]) for m in json.load(r)["marks"]}


def boto3_cases(url):
    s3 = client(url)
    for op in ("GetObject", "HeadObject", "ListObjectsV2", "ListObjects", "PutObject",
               "CopyObject"):
        s3.meta.events.register("before-sign.s3." + op, add_headers)
    s3.create_bucket(Bucket="boto-fenced")
    s3.create_bucket(Bucket="boto-open")
    L = "/locks/boto"

    # --- fenced reads --------------------------------------------------------
    with fenced(L, 10):
        s3.put_object(Bucket="boto-fenced", Key="ledger", Body=b"L0\n")
    with fenced(L, 10):
        got = s3.get_object(Bucket="boto-fenced", Key="ledger")["Body"].read()
    check("fenced get_object, equal token", got == b"L0\n", got)
    with fenced(L, 9):
        st, code, err = error_of(s3.get_object, Bucket="boto-fenced", Key="ledger")
    check("fenced get_object, lower token: 412 StaleFencingToken",
          st == 412 and code == "StaleFencingToken", (st, code))
    check("the error names the mark", err and err.get("HighWaterMark") == "10", err)
    with fenced(L, 20):
        got = s3.get_object(Bucket="boto-fenced", Key="ledger")["Body"].read()
    check("fenced get_object, higher token: served", got == b"L0\n", got)
    check("... and the token is the mark", marks(url).get(L) == 20, marks(url))
    with fenced(L, 19):
        st, _, _ = error_of(s3.head_object, Bucket="boto-fenced", Key="ledger")
    check("fenced head_object, lower token: 412", st == 412, st)
    with fenced(L, 21):
        st, _, _ = error_of(s3.head_object, Bucket="boto-fenced", Key="ledger")
    check("fenced head_object, higher token", st == 200, st)
    with fenced(L, 20):
        st, code, _ = error_of(s3.list_objects_v2, Bucket="boto-fenced")
    check("fenced list_objects_v2, lower token: 412", st == 412 and code ==
          "StaleFencingToken", (st, code))
    with fenced(L, 22):
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="boto-fenced")["Contents"]]
    check("fenced list_objects_v2, higher token", keys == ["ledger"], keys)
    check("... raised the mark", marks(url).get(L) == 22, marks(url))
    got = s3.get_object(Bucket="boto-fenced", Key="ledger")["Body"].read()
    check("an ordinary get_object needs no token", got == b"L0\n", got)

    # --- the lost-write sequence, with fenced reads ----------------------------
    A, B = "/locks/seq", "/locks/seq"
    with fenced(A, 100):
        s3.put_object(Bucket="boto-fenced", Key="seq", Body=b"L0\n")
    with fenced(A, 120):
        read_a = s3.get_object(Bucket="boto-fenced", Key="seq")["Body"].read()
    with fenced(B, 130):
        read_b = s3.get_object(Bucket="boto-fenced", Key="seq")["Body"].read()
    with fenced(A, 120):
        st_a, code_a, _ = error_of(s3.put_object, Bucket="boto-fenced", Key="seq",
                                   Body=read_a + b"A\n")
    with fenced(B, 130):
        st_b, _, _ = error_of(s3.put_object, Bucket="boto-fenced", Key="seq",
                              Body=read_b + b"B\n")
    ledger = s3.get_object(Bucket="boto-fenced", Key="seq")["Body"].read()
    check("stale holder's write refused after the successor's fenced read",
          st_a == 412 and code_a == "StaleFencingToken", (st_a, code_a))
    check("the ledger is the successor's read plus its line",
          st_b == 200 and ledger == b"L0\nB\n", (st_b, ledger))

    # --- conditional requests -------------------------------------------------
    put_model = s3.meta.service_model.operation_model("PutObject").input_shape.members
    native = "IfNoneMatch" in put_model and "IfMatch" in put_model
    print("#    botocore %s: put_object's IfNoneMatch/IfMatch %s" %
          (botocore.__version__, "as parameters" if native else
           "as headers through the hook (this botocore predates them)"))

    def put_if(key, body, **cond):
        if native:
            return s3.put_object(Bucket="boto-open", Key=key, Body=body, **cond)
        names = {"IfNoneMatch": "If-None-Match", "IfMatch": "If-Match"}
        extra.update({names[k]: v for k, v in cond.items()})
        try:
            return s3.put_object(Bucket="boto-open", Key=key, Body=body)
        finally:
            extra.clear()

    etag = put_if("c", b"first", IfNoneMatch="*")["ETag"]
    check("put_object IfNoneMatch=* creates", etag.startswith('"'), etag)
    st, code, _ = error_of(put_if, "c", b"second", IfNoneMatch="*")
    check("put_object IfNoneMatch=* again: 412 PreconditionFailed",
          st == 412 and code == "PreconditionFailed", (st, code))
    new = put_if("c", b"third", IfMatch=etag)["ETag"]
    check("put_object IfMatch=current ETag replaces", new != etag, new)
    st, code, _ = error_of(put_if, "c", b"fourth", IfMatch=etag)
    check("put_object IfMatch=stale ETag: 412", st == 412 and code == "PreconditionFailed",
          (st, code))
    body = s3.get_object(Bucket="boto-open", Key="c")["Body"].read()
    check("nothing refused was written", body == b"third", body)
    got = s3.get_object(Bucket="boto-open", Key="c", IfMatch=new)["Body"].read()
    check("get_object IfMatch=current", got == b"third", got)
    st, code, _ = error_of(s3.get_object, Bucket="boto-open", Key="c", IfMatch=etag)
    check("get_object IfMatch=stale: 412", st == 412 and code == "PreconditionFailed",
          (st, code))
    st, _, _ = error_of(s3.get_object, Bucket="boto-open", Key="c", IfNoneMatch=new)
    check("get_object IfNoneMatch=current: 304", st == 304, st)
    lm = s3.head_object(Bucket="boto-open", Key="c")["LastModified"]
    st, _, _ = error_of(s3.get_object, Bucket="boto-open", Key="c", IfModifiedSince=lm)
    check("get_object IfModifiedSince=Last-Modified: 304", st == 304, st)
    st, _, _ = error_of(s3.head_object, Bucket="boto-open", Key="c", IfNoneMatch=new)
    check("head_object IfNoneMatch=current: 304", st == 304, st)
    st, code, _ = error_of(s3.copy_object, Bucket="boto-open", Key="c2",
                           CopySource={"Bucket": "boto-open", "Key": "c"},
                           CopySourceIfMatch=etag)
    check("copy_object CopySourceIfMatch=stale: 412", st == 412, (st, code))
    s3.copy_object(Bucket="boto-open", Key="c2", CopySource={"Bucket": "boto-open", "Key": "c"},
                   CopySourceIfMatch=new)
    body = s3.get_object(Bucket="boto-open", Key="c2")["Body"].read()
    check("copy_object CopySourceIfMatch=current copies", body == b"third", body)

    # A fenced read-modify-write guarded twice: token and ETag.
    with fenced("/locks/both", 5):
        r = s3.get_object(Bucket="boto-fenced", Key="ledger")
        s3.put_object(Bucket="boto-fenced", Key="ledger", Body=r["Body"].read() + b"x\n",
                      **({"IfMatch": r["ETag"]} if native else {}))
    check("fenced read-modify-write", s3.get_object(Bucket="boto-fenced", Key="ledger")
          ["Body"].read() == b"L0\nx\n")


def aws_cases(url, d):
    cfg = os.path.join(d, "aws.config")
    with open(cfg, "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK,
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
               AWS_CONFIG_FILE=cfg, AWS_SHARED_CREDENTIALS_FILE=os.path.join(d, "aws.cred"))

    def a(*args):
        return subprocess.run(["aws", "--endpoint-url", url, "s3api"] + list(args), env=env,
                              capture_output=True, text=True, timeout=120)

    def refused(name, r, *patterns):
        out = r.stdout + r.stderr
        check(name, r.returncode != 0 and all(p in out for p in patterns), out.strip())

    body = os.path.join(d, "body")
    with open(body, "w") as f:
        f.write("aws data\n")
    out = os.path.join(d, "out")
    check("create-bucket", a("create-bucket", "--bucket", "aws-open").returncode == 0)
    r = a("put-object", "--bucket", "aws-open", "--key", "k", "--body", body)
    etag = json.loads(r.stdout)["ETag"] if r.returncode == 0 else '"?"'
    check("put-object", r.returncode == 0, r.stderr)
    r = a("get-object", "--bucket", "aws-open", "--key", "k", "--if-match", etag, out)
    check("get-object --if-match (current)", r.returncode == 0 and open(out).read() ==
          "aws data\n", r.stderr)
    refused("get-object --if-match (stale): PreconditionFailed",
            a("get-object", "--bucket", "aws-open", "--key", "k", "--if-match", '"0000"', out),
            "PreconditionFailed")
    refused("get-object --if-none-match (current): 304",
            a("get-object", "--bucket", "aws-open", "--key", "k", "--if-none-match", etag, out),
            "304")
    refused("head-object --if-none-match (current): 304",
            a("head-object", "--bucket", "aws-open", "--key", "k", "--if-none-match", etag),
            "304")
    refused("get-object --if-unmodified-since (long ago): PreconditionFailed",
            a("get-object", "--bucket", "aws-open", "--key", "k", "--if-unmodified-since",
              "1998-01-01T00:00:00Z", out), "PreconditionFailed")
    r = a("get-object", "--bucket", "aws-open", "--key", "k", "--if-modified-since",
          "1998-01-01T00:00:00Z", out)
    check("get-object --if-modified-since (long ago)", r.returncode == 0, r.stderr)
    refused("copy-object --copy-source-if-match (stale): PreconditionFailed",
            a("copy-object", "--bucket", "aws-open", "--key", "k2", "--copy-source",
              "aws-open/k", "--copy-source-if-match", '"0000"'), "PreconditionFailed")
    r = a("copy-object", "--bucket", "aws-open", "--key", "k2", "--copy-source", "aws-open/k",
          "--copy-source-if-match", etag)
    check("copy-object --copy-source-if-match (current)", r.returncode == 0, r.stderr)
    r = a("put-object", "--bucket", "aws-open", "--key", "k", "--body", body,
          "--if-none-match", "*")
    if "Unknown options" in r.stderr or "unknown option" in r.stderr.lower():
        print("#    this aws cli has no put-object --if-none-match: not tested")
    else:
        refused("put-object --if-none-match '*' (exists): PreconditionFailed", r,
                "PreconditionFailed")
        r = a("put-object", "--bucket", "aws-open", "--key", "new", "--body", body,
              "--if-none-match", "*")
        check("put-object --if-none-match '*' (new key)", r.returncode == 0, r.stderr)


def main():
    with proxy() as (url, d):
        if MODE == "boto3":
            boto3_cases(url)
        else:
            aws_cases(url, d)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
