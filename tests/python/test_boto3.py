"""zkfence.boto3: every request of a fenced S3 client carries the lock and the
current holding's token, signed, against a real zkfence-proxy with
authentication on (which takes fencing headers only signed); a request
whose token went stale in flight is refused by the proxy; and with no
current holding nothing is sent at all."""
import io
import threading

import pytest

import zkfence
import zkfence.boto3
from conftest import SESSION, SOON, expire_session, expiry, wait_until

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

FENCED = "fenced"  # the proxy's default policy: writes need a lock and token
OPEN = "open"  # fencing optional


@pytest.fixture(scope="module")
def buckets(proxy):
    s3 = proxy.s3()
    for b in (FENCED, OPEN):
        s3.create_bucket(Bucket=b)
    return s3


class Sent:
    """Records what a client puts on the wire: botocore's 'before-send' comes
    after signing, so these are the headers as signed and sent."""

    def __init__(self, s3):
        self.requests = []
        s3.meta.events.register("before-send.s3", self._record)

    def _record(self, request, **kwargs):
        h = request.headers
        self.requests.append({
            "method": request.method,
            "url": request.url,
            "lock": _text(h.get("X-Fencing-Lock")),
            "token": _text(h.get("X-Fencing-Token")),
            "signed": _signed_headers(_text(h.get("Authorization")) or ""),
        })

    def clear(self):
        del self.requests[:]


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _signed_headers(authorization):
    """The SignedHeaders of a SigV4 Authorization header, as a set."""
    for part in authorization.split(","):
        part = part.strip()
        if part.startswith("SignedHeaders="):
            return set(part[len("SignedHeaders="):].split(";"))
    return set()


def assert_fenced(sent, lock_name, token):
    assert sent.requests, "nothing was sent"
    for r in sent.requests:
        assert r["lock"] == lock_name and r["token"] == str(token), r
        assert {"x-fencing-lock", "x-fencing-token"} <= r["signed"], r


def error_code(e):
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def test_reads_writes_and_listings_carry_the_holding_signed(client, proxy, buckets, path):
    s3 = proxy.s3()
    sent = Sent(s3)
    lock = client.lock(path, timeout=SOON)
    with zkfence.boto3.fence(s3, lock):
        with lock as token:
            s3.put_object(Bucket=FENCED, Key="seat-12", Body=b"booked by 1")
            got = s3.get_object(Bucket=FENCED, Key="seat-12")
            assert got["Body"].read() == b"booked by 1"
            # The proxy names the write that produced the object.
            assert got["ResponseMetadata"]["HTTPHeaders"]["x-fencing-token"] == str(token)
            assert got["ResponseMetadata"]["HTTPHeaders"]["x-fencing-lock"] == path
            s3.head_object(Bucket=FENCED, Key="seat-12")
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=FENCED)["Contents"]]
            assert "seat-12" in keys
            s3.list_objects(Bucket=FENCED)
            s3.copy_object(Bucket=FENCED, Key="seat-12-copy",
                           CopySource={"Bucket": FENCED, "Key": "seat-12"})
            # s3transfer's upload and download run on its own worker threads:
            # the token is read there too.
            s3.upload_fileobj(io.BytesIO(b"x" * 1000), FENCED, "seat-13")
            out = io.BytesIO()
            s3.download_fileobj(FENCED, "seat-13", out)
            assert out.getvalue() == b"x" * 1000
            s3.delete_object(Bucket=FENCED, Key="seat-12-copy")
            assert proxy.marks()[path] == token
    methods = {r["method"] for r in sent.requests}
    assert methods == {"PUT", "GET", "HEAD", "DELETE"}, methods
    assert_fenced(sent, path, token)
    assert len(sent.requests) >= 10


def test_multipart_calls_carry_the_holding_signed(client, proxy, buckets, path):
    """Each step of a multipart upload (create, parts, complete, list, abort)
    goes out fenced and signed, whatever this proxy answers to it."""
    s3 = proxy.s3()
    sent = Sent(s3)
    lock = client.lock(path, timeout=SOON)
    calls = [
        lambda: s3.create_multipart_upload(Bucket=FENCED, Key="big"),
        lambda: s3.upload_part(Bucket=FENCED, Key="big", UploadId="u1", PartNumber=1,
                               Body=b"p" * 100),
        lambda: s3.list_parts(Bucket=FENCED, Key="big", UploadId="u1"),
        lambda: s3.complete_multipart_upload(
            Bucket=FENCED, Key="big", UploadId="u1",
            MultipartUpload={"Parts": [{"ETag": '"x"', "PartNumber": 1}]}),
        lambda: s3.abort_multipart_upload(Bucket=FENCED, Key="big", UploadId="u1"),
        lambda: s3.list_multipart_uploads(Bucket=FENCED),
    ]
    with zkfence.boto3.fence(s3, lock), lock as token:
        for call in calls:
            sent.clear()
            try:
                call()
            except ClientError:
                pass  # a proxy without multipart refuses it: the request went out all the same
            assert len(sent.requests) == 1
            assert_fenced(sent, path, token)


def test_a_token_gone_stale_in_flight_is_refused(zk_hosts, proxy, buckets, path):
    """Holder A's write is held up after it was signed (a GC pause, a slow
    network) while A's session expires and B takes the lock and writes:
    A's write then arrives with the old token, and the proxy refuses it,
    naming B's token as the mark. B's write stands. A's client, told LOST,
    sends nothing more."""
    key = "stale-" + path.rsplit("/", 1)[1]
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as zk_a, \
            zkfence.Client(zk_hosts, session_timeout=SESSION) as zk_b:
        lock_a, lock_b = zk_a.lock(path, timeout=SOON), zk_b.lock(path, timeout=expiry(SESSION))
        s3_a, s3_b = proxy.s3(), proxy.s3()
        zkfence.boto3.fence(s3_a, lock_a)
        zkfence.boto3.fence(s3_b, lock_b)
        token_a = lock_a.acquire()
        s3_a.put_object(Bucket=FENCED, Key=key, Body=b"A, first")

        paused, go = threading.Event(), threading.Event()

        def pause(request, **kwargs):
            paused.set()
            assert go.wait(expiry(SESSION) + SOON)

        s3_a.meta.events.register("before-send.s3.PutObject", pause)
        outcome = []

        def late_write():
            try:
                s3_a.put_object(Bucket=FENCED, Key=key, Body=b"A, late")
                outcome.append(None)
            except ClientError as e:
                outcome.append(e)

        t = threading.Thread(target=late_write)
        t.start()
        try:
            assert paused.wait(SOON), "A's write never got to the wire"
            expire_session(zk_a)
            assert lock_a.lost.wait(expiry(SESSION))
            token_b = lock_b.acquire()
            assert token_b > token_a
            s3_b.put_object(Bucket=FENCED, Key=key, Body=b"B")
        finally:
            go.set()
            t.join(SOON)
        s3_a.meta.events.unregister("before-send.s3.PutObject", pause)
        assert len(outcome) == 1 and outcome[0] is not None, "A's late write was accepted"
        e = outcome[0]
        assert error_code(e) == ("StaleFencingToken", 412), e.response
        assert e.response["Error"]["HighWaterMark"] == str(token_b)
        assert s3_b.get_object(Bucket=FENCED, Key=key)["Body"].read() == b"B"

        sent = Sent(s3_a)
        with pytest.raises(zkfence.LockLost):
            s3_a.put_object(Bucket=FENCED, Key=key, Body=b"A, after the loss")
        assert sent.requests == []
        lock_b.release()


def test_without_a_current_holding_nothing_is_sent(zk_hosts, relay, proxy, buckets, path):
    with zkfence.Client(relay.address, session_timeout=SESSION) as zk:
        s3 = proxy.s3()
        lock = zk.lock(path, timeout=SOON)
        zkfence.boto3.fence(s3, lock)
        sent = Sent(s3)
        with pytest.raises(zkfence.NotHeld):
            s3.get_object(Bucket=OPEN, Key="x")  # not acquired yet
        token = lock.acquire()
        relay.cut()
        assert lock.suspended.wait(SOON)
        with pytest.raises(zkfence.ConnectionLoss) as e:
            s3.put_object(Bucket=FENCED, Key="x", Body=b"while suspended")
        assert "suspended" in str(e.value)
        assert sent.requests == []
        relay.restore()
        assert wait_until(lambda: lock.held, expiry(SESSION))
        s3.put_object(Bucket=FENCED, Key="x", Body=b"held again")
        assert_fenced(sent, path, token)
        lock.release()
        sent.clear()
        with pytest.raises(zkfence.NotHeld):
            s3.put_object(Bucket=FENCED, Key="x", Body=b"released")
        lock.close()
        with pytest.raises(zkfence.ClientClosed):
            s3.put_object(Bucket=FENCED, Key="x", Body=b"closed")
        assert sent.requests == []


def test_remove_lock_name_and_one_fence_per_client(client, proxy, buckets, path):
    s3 = proxy.s3()
    sent = Sent(s3)
    lock = client.lock(path, timeout=SOON)
    f = zkfence.boto3.fence(s3, lock, lock_name="/shared" + path)
    with pytest.raises(zkfence.InvalidArgument) as e:
        zkfence.boto3.fence(s3, lock)
    assert "fenced already" in str(e.value)
    with lock as token:
        s3.put_object(Bucket=FENCED, Key="named", Body=b"1")
        assert_fenced(sent, "/shared" + path, token)
        assert proxy.marks()["/shared" + path] == token
        f.remove()
        f.remove()  # a no-op
        sent.clear()
        s3.put_object(Bucket=OPEN, Key="plain", Body=b"2")
        assert sent.requests[0]["lock"] is None and sent.requests[0]["token"] is None
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=FENCED, Key="named", Body=b"3")
        assert error_code(e.value) == ("FencingTokenRequired", 428)
        # Removed, the client may be fenced again.
        with zkfence.boto3.fence(s3, lock):
            s3.put_object(Bucket=FENCED, Key="named", Body=b"4")
        assert zkfence.boto3.fence(s3, lock).remove() is None


def test_presigned_urls_and_resources(client, proxy, buckets, path):
    s3 = proxy.s3()
    lock = client.lock(path, timeout=SOON)
    zkfence.boto3.fence(s3, lock)
    # Not held, yet presigning works: a URL is not a request, and outlives
    # any check made when it is signed, so it carries no token.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": OPEN, "Key": "k"})
    assert "fencing" not in url.lower()
    post = s3.generate_presigned_post(OPEN, "k")
    assert "fencing" not in str(post).lower()

    import boto3

    res = boto3.resource("s3", endpoint_url=proxy.url, region_name="us-east-1",
                         aws_access_key_id=proxy.key, aws_secret_access_key=proxy.secret,
                         config=s3.meta.config)
    sent = Sent(res.meta.client)
    with zkfence.boto3.fence(res.meta.client, lock), lock as token:
        res.Object(FENCED, "via-resource").put(Body=b"r")
        assert res.Object(FENCED, "via-resource").get()["Body"].read() == b"r"
    assert_fenced(sent, path, token)


def test_the_proxy_takes_the_headers_only_signed(client, proxy, buckets, path):
    """Authentication is on: the proxy accepts fencing headers only among the
    signed ones. The helper's are (200); the same headers added after
    signing are refused (403 AccessDenied), and a token changed after
    signing breaks the signature (403 SignatureDoesNotMatch); nothing of
    either is written."""
    lock = client.lock(path, timeout=SOON)
    with lock as token:
        fenced = proxy.s3()
        with zkfence.boto3.fence(fenced, lock):
            fenced.put_object(Bucket=FENCED, Key="signed", Body=b"through the helper")

        late = proxy.s3()

        def add_after_signing(request, **kwargs):
            request.headers["X-Fencing-Lock"] = path
            request.headers["X-Fencing-Token"] = str(token)

        late.meta.events.register("before-send.s3", add_after_signing)
        with pytest.raises(ClientError) as e:
            late.put_object(Bucket=FENCED, Key="unsigned", Body=b"headers added after signing")
        assert error_code(e.value) == ("AccessDenied", 403)

        tampered = proxy.s3()

        def change_token(request, **kwargs):
            request.headers["X-Fencing-Token"] = str(token + 1)  # a case-insensitive dict here

        tampered.meta.events.register("before-send.s3", change_token)
        with zkfence.boto3.fence(tampered, lock):
            with pytest.raises(ClientError) as e:
                tampered.put_object(Bucket=FENCED, Key="unsigned", Body=b"token changed")
        assert error_code(e.value) == ("SignatureDoesNotMatch", 403)

    s3 = proxy.s3()
    assert s3.get_object(Bucket=FENCED, Key="signed")["Body"].read() == b"through the helper"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=FENCED, Key="unsigned")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert proxy.marks()[path] == token


def test_a_fenced_client_can_be_garbage_collected(client, proxy, path):
    """fence() keeps no strong reference to the S3 client: dropped, it is
    collected, registration and all (a long-lived worker making clients
    would otherwise keep every one)."""
    import gc
    import weakref

    lock = client.lock(path)
    s3 = proxy.s3()
    f = zkfence.boto3.fence(s3, lock)
    assert f.client is s3
    gone = weakref.ref(s3)
    del s3
    gc.collect()
    assert gone() is None, gc.get_referrers(gone()) if gone() else None
    assert f.client is None
    f.remove()  # a no-op now
    assert not f.active
