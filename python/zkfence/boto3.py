"""Fencing for boto3: every request of an S3 client carries the lock's name
and the current holding's token, for zkfence-proxy.

    s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:9000", ...)
    lock = zk.lock("/locks/seat-12", timeout=30)
    zkfence.boto3.fence(s3, lock)
    with lock:
        body = s3.get_object(Bucket="seats", Key="seat-12")["Body"].read()  # fenced read
        s3.put_object(Bucket="seats", Key="seat-12", Body=change(body))     # fenced write

A handler on botocore's 'before-sign.s3' event adds ``X-Fencing-Lock`` and
``X-Fencing-Token`` to each request (reads and writes: a fenced read is what
makes read-modify-write safe, see the README) before it is signed, so that
SigV4 covers them (the proxy requires the fencing headers to be signed when
it checks signatures). Each attempt is signed anew (botocore retries
re-sign), so each attempt reads the token again.

When there is no current holding (not acquired, released, lost, suspended,
or the lock closed), the handler raises the lock's error (NotHeld, LockLost,
ConnectionLoss, ClientClosed) and the request is not sent: a stale token is
never sent by this helper. (A token can still go stale while a request is in
flight: that is what the proxy's check is for.)

Presigned URLs and POST policies (generate_presigned_url/post) are not
requests and are left alone: the URL outlives any check made when it is
signed.
"""
import weakref

from . import errors

LOCK_HEADER = "X-Fencing-Lock"
TOKEN_HEADER = "X-Fencing-Token"
EVENT = "before-sign.s3"

_fenced = weakref.WeakKeyDictionary()  # client -> its Fence


class Fence:
    """The registration made by fence(); remove() (or the end of ``with``)
    takes it off the client.

    It refers to its S3 client weakly: the client holds the Fence (through
    its handler) and _fenced holds it by the client, so a strong reference
    back would keep every fenced client alive for good."""

    def __init__(self, s3_client, lock, lock_name):
        self._client = weakref.ref(s3_client)
        self.lock = lock
        self.lock_name = lock_name
        self.active = True

    @property
    def client(self):
        """The S3 client, or None once it is gone."""
        return self._client()

    def _before_sign(self, request, signature_version=None, **kwargs):
        if isinstance(signature_version, str) and (
                signature_version.endswith("-query") or signature_version.endswith("-post")):
            return  # a presigned URL or POST policy, not a request
        token = self.lock.token  # raises when there is no current holding: nothing is sent
        for name, value in ((LOCK_HEADER, self.lock_name), (TOKEN_HEADER, str(token))):
            if name in request.headers:
                del request.headers[name]  # retries reuse nothing, but never send two
            request.headers[name] = value

    def remove(self):
        """Takes the handler off the client: its requests go out without the
        fencing headers. A no-op when removed (or the client is gone)."""
        client = self._client()
        if self.active and client is not None:
            client.meta.events.unregister(EVENT, self._before_sign)
            if _fenced.get(client) is self:
                del _fenced[client]
        self.active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def fence(s3_client, lock, *, lock_name=None):
    """Makes every request of ``s3_client`` (a boto3 S3 client; for a
    resource, pass ``resource.meta.client``) carry ``lock``'s name and current
    token. ``lock`` is a zkfence.Lock (or any object with ``path`` and a
    ``token`` property that raises when there is no current holding).
    ``lock_name`` is the name the proxy keeps the mark under; by default the
    lock's path, as ``zkfence lock`` sets ZKFENCE_LOCK (with a chroot, the
    path inside it: name the full path if clients with different chroots
    share a proxy). Returns a Fence; one per client at a time."""
    if _fenced.get(s3_client) is not None:
        raise errors.error(errors.InvalidArgument.code, "fencing an S3 client",
                           hint="it is fenced already (by %s): remove() that Fence first" %
                           _fenced[s3_client].lock_name)
    f = Fence(s3_client, lock, lock_name if lock_name is not None else lock.path)
    s3_client.meta.events.register(EVENT, f._before_sign)
    _fenced[s3_client] = f
    return f
