#!/usr/bin/env python3
"""Cross-checks the SigV4 verifier (proxy/sigv4) against signers nobody here
wrote: botocore (the aws cli's and boto3's signer), awscrt (the AWS Common
Runtime's C signer, aws-c-auth, which the aws cli also ships) and curl's
--aws-sigv4.

Each signer signs requests with random keys, queries, headers and bodies;
the raw requests go to sigv4_check, which must accept every one, and refuse
every copy with one byte changed (in the signature, the path, the query, a
signed header, the body of a hashed upload). Presigned URLs likewise.

    crosscheck.py [--count N] [--seed S] [--only botocore|awscrt|curl] [--debug]

Needs ZKFENCE_BIN_DIR (where sigv4_check is); SIGV4_CHECK_WRAPPER, if set, is
a command prefix for sigv4_check (valgrind). Exit 77 (skipped) when none of
the three signers is available; 1 on any wrong verdict.
"""
import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

AK = "AKIDCROSSCHECK01"
SECRET = "cross/check+Secret=Key0123456789abcdefghij"
REGION = "us-east-1"

# Key material: spaces, unicode, '+', an escaped '/', '~', reserved marks.
KEY_PIECES = ["a", "Z", "0", "-", "_", ".", "~", " ", "  ", "+", "=", "&", "?", "#", "%",
              "*", "'", "(", ")", "!", "$", ",", ";", ":", "@", "/", "é", "日本", "€",
              "ü", "\u00a0", "😀", "[", "]", "{", "}", "^", "`", "|", "\\", "<", ">", '"']


def rand_key(rng):
    n = rng.randint(1, 12)
    key = "".join(rng.choice(KEY_PIECES) for _ in range(n))
    return key.strip("/") or "k"


def rand_value(rng):
    return "".join(rng.choice(KEY_PIECES[:30]) for _ in range(rng.randint(0, 6)))


class Verifier:
    """sigv4_check as a coprocess: one record in, one verdict line out."""

    def __init__(self, bin_dir, debug):
        env = dict(os.environ)
        if debug:
            env["SIGV4_CHECK_DEBUG"] = "1"
        # SIGV4_CHECK_WRAPPER: a command prefix, e.g. valgrind and its options
        wrapper = os.environ.get("SIGV4_CHECK_WRAPPER", "").split()
        self.p = subprocess.Popen(wrapper + [os.path.join(bin_dir, "sigv4_check"), REGION, AK,
                                             SECRET],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def check(self, head: bytes, body: bytes, now=None):
        now = int(time.time()) if now is None else now
        self.p.stdin.write(b"REQ %d %d\n" % (now, len(body)) + head + body)
        self.p.stdin.flush()
        line = self.p.stdout.readline().decode()
        if not line:
            raise RuntimeError("sigv4_check died")
        return line.split(" ", 3)

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait()
        if rc != 0:
            raise RuntimeError("sigv4_check exited %d" % rc)


class Checker:
    def __init__(self, verifier):
        self.v = verifier
        self.failures = 0
        self.accepted = 0
        self.refused = 0

    def expect(self, what, head, body, ok, now=None):
        verdict = self.v.check(head, body, now)
        good = (verdict[0] == "ZKP_SIGV4_OK") == ok
        if good:
            if ok:
                self.accepted += 1
            else:
                self.refused += 1
            return
        self.failures += 1
        sys.stderr.write("WRONG VERDICT (%s, wanted %s): %s\n%s\n" % (
            what, "accept" if ok else "refuse", " ".join(verdict).strip(),
            head.decode("utf-8", "replace")))

    def with_mutations(self, what, head, body, rng):
        """The request must pass; copies with one change must not."""
        self.expect(what, head, body, True)
        lines = head.split(b"\r\n")
        req = lines[0].split(b" ")
        target = req[1]
        # a signature digit
        for i, l in enumerate(lines):
            if l.lower().startswith(b"authorization:"):
                j = len(l) - 1 - rng.randrange(64)
                c = b"0" if l[j:j + 1] != b"0" else b"1"
                m = lines[:]
                m[i] = l[:j] + c + l[j + 1:]
                self.expect(what + ": signature changed", b"\r\n".join(m), body, False)
        if b"X-Amz-Signature=" in target:
            j = target.index(b"X-Amz-Signature=") + 16 + rng.randrange(64)
            c = b"0" if target[j:j + 1] != b"0" else b"1"
            m = lines[:]
            m[0] = b" ".join([req[0], target[:j] + c + target[j + 1:], req[2]])
            self.expect(what + ": presigned signature changed", b"\r\n".join(m), body, False)
        # the path: one more byte
        path, _, query = target.partition(b"?")
        m = lines[:]
        m[0] = b" ".join([req[0], path + b"x" + (b"?" + query if query else b""), req[2]])
        self.expect(what + ": path changed", b"\r\n".join(m), body, False)
        # the query: one more parameter
        m = lines[:]
        m[0] = b" ".join([req[0], target + (b"&" if b"?" in target else b"?") + b"zz=1", req[2]])
        self.expect(what + ": query parameter added", b"\r\n".join(m), body, False)
        # the method
        m = lines[:]
        m[0] = b" ".join([b"PATCH", target, req[2]])
        self.expect(what + ": method changed", b"\r\n".join(m), body, False)
        # a signed header's value (host is always signed)
        for i, l in enumerate(lines):
            if l.lower().startswith(b"host:"):
                m = lines[:]
                m[i] = l + b"0"
                self.expect(what + ": host changed", b"\r\n".join(m), body, False)
        # the body of a hashed upload
        hashed = any(l.lower().startswith(b"x-amz-content-sha256:") and len(l.split(b":", 1)[1]
                     .strip()) == 64 for l in lines)
        if hashed and body:
            j = rng.randrange(len(body))
            b2 = body[:j] + bytes([body[j] ^ 1]) + body[j + 1:]
            self.expect(what + ": body changed", head, b2, False)
        # the clock: 16 minutes later (presigned: past its expiry or skew)
        if b"X-Amz-Expires=" not in target:
            self.expect(what + ": 16 minutes late", head, body, False, int(time.time()) + 960)


def raw_head(method, target, headers):
    lines = ["%s %s HTTP/1.1" % (method, target)]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


# ------------------------------------------------------------------ botocore

class Captured(Exception):
    pass


def botocore_client():
    import botocore.session
    from botocore.config import Config
    s = botocore.session.get_session()
    client = s.create_client(
        "s3", endpoint_url="http://127.0.0.1:9000", region_name=REGION,
        aws_access_key_id=AK, aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))
    box = {}

    def before_send(request, **kwargs):
        box["req"] = request
        raise Captured()

    client.meta.events.register("before-send", before_send)
    return client, box


def request_bytes(req):
    """The wire form of a botocore AWSPreparedRequest (urllib3 adds Host)."""
    u = urllib.parse.urlsplit(req.url)
    target = u.path + ("?" + u.query if u.query else "")
    headers = []
    has_host = False
    for k, v in req.headers.items():
        v = v.decode("latin-1") if isinstance(v, bytes) else v
        has_host |= k.lower() == "host"
        headers.append((k, v))
    if not has_host:
        headers.insert(0, ("Host", u.netloc))
    body = req.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    if body and not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(body))))
    return raw_head(req.method, target, headers), body


def run_botocore(checker, rng, count):
    try:
        import botocore
    except ImportError:
        return False
    client, box = botocore_client()
    for i in range(count):
        bucket = "bucket-%d" % rng.randrange(100)
        key = rand_key(rng)
        op = rng.choice(["put", "get", "head", "delete", "list", "put_meta", "copy", "presign_get",
                         "presign_put", "tagging"])
        try:
            if op == "put":
                body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
                client.put_object(Bucket=bucket, Key=key, Body=body)
            elif op == "put_meta":
                client.put_object(Bucket=bucket, Key=key, Body=b"x" * rng.randint(1, 100),
                                  ContentType="text/plain; charset=utf-8",
                                  Metadata={"note": "  a   b  c ", "fencing-lock": "/locks/seat-%d" % rng.randrange(99),
                                            "fencing-token": str(rng.randrange(1 << 63))},
                                  CacheControl="no-cache,  max-age=0")
            elif op == "get":
                client.get_object(Bucket=bucket, Key=key, Range="bytes=0-%d" % rng.randrange(100),
                                  ResponseContentType="text/plain")
            elif op == "head":
                client.head_object(Bucket=bucket, Key=key)
            elif op == "delete":
                client.delete_object(Bucket=bucket, Key=key)
            elif op == "copy":
                client.copy_object(Bucket=bucket, Key=key,
                                   CopySource={"Bucket": bucket, "Key": rand_key(rng)})
            elif op == "tagging":
                client.get_object_tagging(Bucket=bucket, Key=key)
            elif op == "list":
                kw = {"Prefix": rand_value(rng), "MaxKeys": rng.randint(1, 1000)}
                if rng.random() < 0.5:
                    kw["Delimiter"] = rng.choice(["/", "+", " ", "é"])
                if rng.random() < 0.5:
                    kw["StartAfter"] = rand_key(rng)
                client.list_objects_v2(Bucket=bucket, **kw)
            else:
                method = "get_object" if op == "presign_get" else "put_object"
                url = client.generate_presigned_url(
                    method, Params={"Bucket": bucket, "Key": key},
                    ExpiresIn=rng.randint(1, 604800))
                u = urllib.parse.urlsplit(url)
                head = raw_head("GET" if op == "presign_get" else "PUT",
                                u.path + "?" + u.query, [("Host", u.netloc)])
                checker.with_mutations("botocore " + op, head, b"", rng)
                continue
        except Captured:
            pass
        head, body = request_bytes(box.pop("req"))
        checker.with_mutations("botocore " + op, head, body, rng)
    return True


# -------------------------------------------------------------------- awscrt

def run_awscrt(checker, rng, count):
    try:
        from awscrt import auth, http
    except ImportError:
        return False
    import datetime
    import hashlib
    creds = auth.AwsCredentialsProvider.new_static(AK, SECRET)
    for i in range(count):
        presigned = rng.random() < 0.3
        key = urllib.parse.quote(rand_key(rng), safe="/-_.~")
        params = [(urllib.parse.quote(rand_value(rng) or "p", safe="-_.~"),
                   urllib.parse.quote(rand_value(rng), safe="-_.~"))
                  for _ in range(rng.randint(0, 4))]
        query = "&".join("%s=%s" % kv for kv in params)
        path = "/bucket/" + key + ("?" + query if query else "")
        method = rng.choice(["GET", "PUT", "DELETE", "HEAD", "POST"])
        headers = [("Host", "127.0.0.1:9000")]
        body = b""
        if presigned:
            body_value = auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD
        else:
            kind = rng.choice(["hash", "unsigned", "streaming"])
            if kind == "hash":
                body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
                body_value = hashlib.sha256(body).hexdigest()
            elif kind == "unsigned":
                body_value = auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD
            else:
                body_value = auth.AwsSignedBodyValue.STREAMING_AWS4_HMAC_SHA256_PAYLOAD
                headers += [("Content-Encoding", "aws-chunked"),
                            ("x-amz-decoded-content-length", "100")]
            if rng.random() < 0.5:
                headers.append(("x-amz-meta-note", rng.choice(["a  b", " x ", "y\tz", "1"])))
            if rng.random() < 0.5:
                headers.append(("X-Amz-Storage-Class", "REDUCED_REDUNDANCY"))
        cfg = auth.AwsSigningConfig(
            algorithm=auth.AwsSigningAlgorithm.V4,
            signature_type=(auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS if presigned
                            else auth.AwsSignatureType.HTTP_REQUEST_HEADERS),
            credentials_provider=creds, region=REGION, service="s3",
            date=datetime.datetime.now(datetime.timezone.utc),
            use_double_uri_encode=False, should_normalize_uri_path=False,
            signed_body_value=body_value,
            signed_body_header_type=(auth.AwsSignedBodyHeaderType.NONE if presigned else
                                     auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256),
            expiration_in_seconds=rng.randint(1, 604800) if presigned else None)
        req = http.HttpRequest(method, path, http.HttpHeaders(headers))
        signed = auth.aws_sign_request(req, cfg).result(10)
        head = raw_head(signed.method, signed.path, list(signed.headers))
        checker.with_mutations("awscrt" + (" presigned" if presigned else ""), head, body, rng)
    return True


# ---------------------------------------------------------------------- curl

def curl_has_sigv4():
    curl = shutil.which("curl")
    if curl is None:
        return False
    out = subprocess.run([curl, "--help", "all"], capture_output=True, text=True).stdout
    return "--aws-sigv4" in out


def capture_once(sock, box):
    c, _ = sock.accept()
    c.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    n = 0
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        chunk = c.recv(65536)
        if not chunk:
            break
        rest += chunk
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    c.close()
    box["head"] = head + b"\r\n\r\n"
    box["body"] = rest


def run_curl(checker, rng, count):
    if not curl_has_sigv4():
        return False
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    port = sock.getsockname()[1]
    import hashlib
    for i in range(count):
        # curl 7.88 signs the path and query as written (curl issue #9717:
        # no sorting, no re-encoding), which S3 refuses unless they are
        # canonical already: so they are written canonically here.
        key = urllib.parse.quote(rand_key(rng), safe="/-_.~")
        params = sorted((urllib.parse.quote(rand_value(rng) or "p", safe="-_.~"),
                         urllib.parse.quote(rand_value(rng), safe="-_.~"))
                        for _ in range(rng.randint(0, 4)))
        query = "&".join("%s=%s" % kv for kv in params)
        url = "http://127.0.0.1:%d/bucket/%s%s" % (port, key, "?" + query if query else "")
        args = ["curl", "-s", "-o", "/dev/null", "--aws-sigv4", "aws:amz:%s:s3" % REGION,
                "--user", "%s:%s" % (AK, SECRET)]
        body = b""
        if rng.random() < 0.5:
            body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000)))
            args += ["-X", "PUT", "--data-binary", "@-",
                     "-H", "x-amz-content-sha256: " + hashlib.sha256(body).hexdigest()]
        else:
            args += ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        if rng.random() < 0.5:
            args += ["-H", "x-amz-meta-note: %s" % rng.choice(["a  b", " x ", "y\tz", "1"])]
        if rng.random() < 0.3:
            args += ["-H", "Content-Type: application/octet-stream"]
        box = {}
        t = threading.Thread(target=capture_once, args=(sock, box))
        t.start()
        subprocess.run(args + [url], input=body, timeout=30)
        t.join(30)
        checker.with_mutations("curl", box["head"], box["body"], rng)
    sock.close()
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--only", choices=["botocore", "awscrt", "curl"])
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    bin_dir = os.environ.get("ZKFENCE_BIN_DIR")
    if not bin_dir:
        sys.exit("ZKFENCE_BIN_DIR is not set")
    rng = random.Random(args.seed)
    v = Verifier(bin_dir, args.debug)
    ch = Checker(v)
    ran = []
    if args.only in (None, "botocore") and run_botocore(ch, rng, args.count):
        import botocore
        ran.append("botocore %s" % botocore.__version__)
    if args.only in (None, "awscrt") and run_awscrt(ch, rng, args.count // 2):
        import awscrt
        ran.append("awscrt %s" % getattr(awscrt, "__version__", "(Debian)"))
    if args.only in (None, "curl") and run_curl(ch, rng, max(args.count // 4, 10)):
        ran.append(subprocess.run(["curl", "--version"], capture_output=True,
                                  text=True).stdout.split("\n")[0].split(" (")[0])
    v.close()
    if not ran:
        print("crosscheck: no signer (botocore, awscrt, curl --aws-sigv4) available: skipped")
        sys.exit(77)
    print("crosscheck: %s; %d signed requests accepted, %d altered copies refused, "
          "%d wrong verdicts" % (", ".join(ran), ch.accepted, ch.refused, ch.failures))
    sys.exit(1 if ch.failures else 0)


if __name__ == "__main__":
    main()
