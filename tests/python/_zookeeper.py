"""Test-only access to libzookeeper_mt (the library libzkfence runs on, so
already loaded in this process): expiring a client's session from outside,
as tests/integration/zkf_test.c's zt_expire_session does."""
import time

import cffi

from zkfence._ffi import ffi as zkf_ffi, lib as zkf_lib

ffi = cffi.FFI()
ffi.cdef("""
typedef struct { int64_t client_id; char passwd[16]; } clientid_t;
typedef struct _zhandle zhandle_t;
typedef void (*watcher_fn)(zhandle_t *zh, int type, int state, const char *path, void *ctx);
zhandle_t *zookeeper_init(const char *host, watcher_fn fn, int recv_timeout,
                          const clientid_t *clientid, void *context, int flags);
const clientid_t *zoo_client_id(zhandle_t *zh);
int zoo_state(zhandle_t *zh);
int zookeeper_close(zhandle_t *zh);
""")
lib = ffi.dlopen("libzookeeper_mt.so.2")
ZOO_CONNECTED_STATE = 3


@ffi.callback("void(zhandle_t *, int, int, const char *, void *)")
def _ignore(zh, type_, state, path, ctx):
    pass


def _join_and_close(core, hosts, timeout):
    """A second handle joins the client's session and closes it."""
    zh = zkf_lib.zkf_client_zhandle(core.ptr)
    assert zh != zkf_ffi.NULL
    zh = ffi.cast("zhandle_t *", int(zkf_ffi.cast("uintptr_t", zh)))
    cid = ffi.new("clientid_t *")
    cid[0] = lib.zoo_client_id(zh)[0]
    other = lib.zookeeper_init(hosts.encode(), _ignore,
                               zkf_lib.zkf_client_session_timeout(core.ptr), cid, ffi.NULL, 0)
    assert other != ffi.NULL
    try:
        deadline = time.monotonic() + timeout
        while lib.zoo_state(other) != ZOO_CONNECTED_STATE:
            assert time.monotonic() < deadline, "the second handle did not join the session"
            time.sleep(0.005)  # polling interval
    finally:
        lib.zookeeper_close(other)  # closes the shared session


def expire(client, hosts, timeout=30.0, attempts=5):
    """Ends the client's session from outside: a second handle joins it and
    closes it; the client then sees it expire. Returns once the client's
    session id is no longer the old one.

    A race the C helper shares: the client, pushed off its connection by the
    second handle, reconnects at once and may take the session back before
    the close is sent; the server then refuses the close (the session moved)
    and the session lives on. So the client's verdict is awaited, for one
    session timeout (a live session does not end by itself: past that, the
    close was lost), and the take-over repeated if needed."""
    core = client._core
    old = zkf_lib.zkf_client_session_id(core.ptr)
    for _ in range(attempts):
        _join_and_close(core, hosts, timeout)
        deadline = time.monotonic() + zkf_lib.zkf_client_session_timeout(core.ptr) / 1000.0
        while time.monotonic() < deadline:
            if zkf_lib.zkf_client_session_id(core.ptr) != old:
                return
            time.sleep(0.005)  # polling interval
    raise AssertionError("session 0x%x survived %d take-overs" % (old & (2**64 - 1), attempts))
