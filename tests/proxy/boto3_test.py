#!/usr/bin/python3
"""boto3 (Debian's python3-boto3) against a real zkfence-proxy with
authentication on, over HTTP and HTTPS: its normal configuration (access key
and secret, path-style addressing, verify= the test's certificate), puts with
fencing metadata, checksums, presigned URLs, and the refusals a wrong secret,
a stale token and an unverified certificate get. Exit 77 when boto3 is
missing (ctest: skipped).

Usage: boto3_test.py (ZKFENCE_BIN_DIR: where zkfence-proxy is)."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import boto3
    import botocore
    from botocore.client import Config
    from botocore.exceptions import ClientError, SSLError
except ImportError:
    print("boto3 not installed: skipped")
    sys.exit(77)

BIN = os.path.join(os.environ.get("ZKFENCE_BIN_DIR", "build/bin"), "zkfence-proxy")
failures = 0


def check(name, cond, detail=""):
    global failures
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)))
    if not cond:
        failures += 1


def refused(name, fn, code=None, status=None):
    try:
        fn()
    except ClientError as e:
        err = e.response.get("Error", {})
        got_code = err.get("Code")
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        ok = (code is None or got_code == code) and (status is None or got_status == status)
        check(name, ok, "%s %s" % (got_status, got_code))
        return
    check(name, False, "succeeded")


def url_refused(name, url, status, needle):
    """GET url (urllib: no SDK in between) must fail with status, its body
    naming needle."""
    try:
        urllib.request.urlopen(url, timeout=10)
        check(name, False, "succeeded")
    except urllib.error.HTTPError as e:
        check(name, e.code == status and needle in e.read(), e.code)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    d = tempfile.mkdtemp(prefix="zkfence-boto3-test.")
    ak = "AKBOTO" + os.urandom(6).hex().upper()
    sk = os.urandom(20).hex()
    creds = os.path.join(d, "credentials")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, ("key %s %s\ngrant %s * admin\n" % (ak, sk, ak)).encode())
    os.close(fd)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    port, tls_port = free_port(), free_port()
    conf = os.path.join(d, "proxy.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:%d\ntls_listen = 127.0.0.1:%d\ntls_cert = %s\n"
                "tls_key = %s\ncredentials = %s\ndata_dir = %s/data\n"
                "bucket.boto-open.fencing = optional\n" % (port, tls_port, cert, key, creds, d))
    log = open(os.path.join(d, "proxy.log"), "w")
    proxy = subprocess.Popen([BIN, "--config", conf], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/_zkfence/health" % port, timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline or proxy.poll() is not None:
                    print("proxy did not start")
                    print(open(os.path.join(d, "proxy.log")).read())
                    return 1
                time.sleep(0.05)  # polling interval of the health wait
        run(ak, sk, port, tls_port, cert)
    finally:
        proxy.terminate()
        rc = proxy.wait(30)
        check("clean shutdown (exit 0)", rc == 0, rc)
        if failures:
            print(open(os.path.join(d, "proxy.log")).read())
        subprocess.run(["rm", "-rf", d])
    print("%d failure(s)" % failures if failures else "all boto3 checks passed")
    return 1 if failures else 0


def client(ak, sk, url, sigv="s3v4", **kw):
    """signature_version s3v4: what a SigV4-only service needs (boto3 1.26
    presigns with Signature Version 2 by default, which the proxy refuses);
    requests are SigV4 either way."""
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1",
                        config=Config(signature_version=sigv, s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}), **kw)


def run(ak, sk, port, tls_port, cert):
    print("boto3 %s, botocore %s" % (boto3.__version__, botocore.__version__))
    url, surl = "http://127.0.0.1:%d" % port, "https://localhost:%d" % tls_port
    s3 = client(ak, sk, url)
    s3.create_bucket(Bucket="boto-fenced")
    s3.create_bucket(Bucket="boto-open")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check("list_buckets", "boto-fenced" in names and "boto-open" in names, names)
    body = os.urandom(200000)
    meta = {"fencing-lock": "/locks/boto", "fencing-token": "21", "owner": "me"}
    r = s3.put_object(Bucket="boto-fenced", Key="k/obj", Body=body, Metadata=meta)
    check("put_object with fencing metadata", r["ResponseMetadata"]["HTTPStatusCode"] == 200)
    g = s3.get_object(Bucket="boto-fenced", Key="k/obj")
    check("get_object is byte-exact", g["Body"].read() == body)
    check("user metadata kept, fencing metadata not stored",
          g["Metadata"].get("owner") == "me" and "fencing-token" not in g["Metadata"],
          g["Metadata"])
    refused("stale token refused (412 StaleFencingToken)",
            lambda: s3.put_object(Bucket="boto-fenced", Key="k/obj", Body=b"stale",
                                  Metadata={"fencing-lock": "/locks/boto",
                                            "fencing-token": "20"}),
            "StaleFencingToken", 412)
    check("the stale body did not land",
          s3.get_object(Bucket="boto-fenced", Key="k/obj")["Body"].read() == body)
    refused("no token on a fenced bucket (428)",
            lambda: s3.put_object(Bucket="boto-fenced", Key="k/none", Body=b"x"),
            "FencingTokenRequired", 428)
    # Flexible checksums, as newer SDKs send them.
    for algo in ("CRC32", "CRC32C", "SHA1", "SHA256"):
        try:
            s3.put_object(Bucket="boto-open", Key="sum/" + algo, Body=b"checked " + algo.encode(),
                          ChecksumAlgorithm=algo)
            got = s3.get_object(Bucket="boto-open", Key="sum/" + algo)["Body"].read()
            check("put_object ChecksumAlgorithm=" + algo, got == b"checked " + algo.encode())
        except ClientError as e:
            check("put_object ChecksumAlgorithm=" + algo, False, e)
        except botocore.exceptions.BotoCoreError as e:  # the client cannot (no awscrt)
            print("skip put_object ChecksumAlgorithm=%s: %s" % (algo, e))
    s3.upload_file(__file__, "boto-open", "file/me.py")
    lst = s3.list_objects_v2(Bucket="boto-open", Prefix="file/")
    check("upload_file and list_objects_v2",
          [o["Key"] for o in lst.get("Contents", [])] == ["file/me.py"], lst.get("Contents"))
    presigned = s3.generate_presigned_url("get_object",
                                          Params={"Bucket": "boto-fenced", "Key": "k/obj"},
                                          ExpiresIn=60)
    check("presigned URL reads the object",
          urllib.request.urlopen(presigned, timeout=10).read() == body)
    v2 = client(ak, sk, url, sigv=None).generate_presigned_url(
        "get_object", Params={"Bucket": "boto-fenced", "Key": "k/obj"}, ExpiresIn=60)
    url_refused("a Signature Version 2 presigned URL is refused (400 InvalidRequest)", v2, 400,
                b"<Code>InvalidRequest</Code>")
    expired = s3.generate_presigned_url("get_object",
                                        Params={"Bucket": "boto-fenced", "Key": "k/obj"},
                                        ExpiresIn=1)
    time.sleep(2.5)  # the URL's lifetime running out is the probe itself
    url_refused("an expired presigned URL is refused (403)", expired, 403, b"Request has expired")
    refused("a wrong secret is refused (SignatureDoesNotMatch)",
            lambda: client(ak, "wrong-secret-0123456789", url).list_objects_v2(
                Bucket="boto-open"),
            "SignatureDoesNotMatch", 403)
    refused("an unknown key is refused (InvalidAccessKeyId)",
            lambda: client("AKNOSUCHKEY01", sk, url).list_objects_v2(Bucket="boto-open"),
            "InvalidAccessKeyId", 403)
    # HTTPS, verified against the test's certificate.
    s3s = client(ak, sk, surl, verify=cert)
    s3s.put_object(Bucket="boto-open", Key="tls/obj", Body=body)
    check("over HTTPS (verify=cert): put and get",
          s3s.get_object(Bucket="boto-open", Key="tls/obj")["Body"].read() == body)
    try:
        client(ak, sk, surl).list_objects_v2(Bucket="boto-open")
        check("over HTTPS, an unknown CA is refused by the client", False, "succeeded")
    except SSLError:
        check("over HTTPS, an unknown CA is refused by the client", True)
    refused("delete without a token on a fenced bucket (428)",
            lambda: s3.delete_object(Bucket="boto-fenced", Key="k/obj"),
            "FencingTokenRequired", 428)
    r = s3.delete_objects(Bucket="boto-open", Delete={"Objects": [{"Key": "file/me.py"}]})
    check("delete_objects", [d["Key"] for d in r.get("Deleted", [])] == ["file/me.py"], r)


if __name__ == "__main__":
    sys.exit(main())
