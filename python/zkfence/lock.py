"""The exclusive lock (zkf_lock_t): Client.lock(path) makes one.

    lock = client.lock("/locks/seat-12", timeout=30)
    with lock as token:          # acquire; release at the end
        ...                      # send `token` with every request

The recipe (zkfence.h): an ephemeral-sequential node per acquisition, each
waiter watching only its predecessor (FIFO, no herd); the token is the
node's creation zxid, which strictly increases from holder to holder.
"""
from . import _runtime
from ._ffi import ffi, lib
from ._holding import Holding, HoldingCore, LockEvent, LockState  # noqa: F401 (re-exported)


@ffi.callback("void(zkf_lock_t *, int, uint64_t, void *)", onerror=_runtime.trampoline_error)
def _acquired_trampoline(lock, status, token, arg):
    w = _runtime.lookup(arg)
    if w is not None:
        w.core.on_acquired(w, status, token)


@ffi.callback("void(zkf_lock_t *, zkf_lock_state_t, uint64_t, void *)",
              onerror=_runtime.trampoline_error)
def _event_trampoline(lock, state, token, arg):
    core = _runtime.lookup(arg)
    if core is not None:
        core.on_event(int(state), token)


class LockCore(HoldingCore):
    kind = "lock"
    c_type = "zkf_lock_t"

    def c_create(self, client_ptr, path, arg, out):
        opts = ffi.new("zkf_lock_options_t *")
        lib.zkf_lock_options_init(opts)
        opts.event_cb = _event_trampoline
        opts.event_arg = arg
        return lib.zkf_lock_create(client_ptr, path, opts, out)

    def c_acquire_async(self, ptr, timeout_ms, arg):
        return lib.zkf_lock_acquire_async(ptr, timeout_ms, _acquired_trampoline, arg)

    c_destroy = staticmethod(lib.zkf_lock_destroy)
    c_cancel = staticmethod(lib.zkf_lock_cancel)
    c_release = staticmethod(lib.zkf_lock_release)
    c_token = staticmethod(lib.zkf_lock_token)
    c_state = staticmethod(lib.zkf_lock_state)
    c_node = staticmethod(lib.zkf_lock_node)
    c_zk_error = staticmethod(lib.zkf_lock_zk_error)


class Lock(Holding):
    """An exclusive lock on one ZooKeeper path, with fencing tokens. Made by
    Client.lock(path, timeout=None, on_event=None, max_depth=64).

    ``with lock as token:`` acquires (waiting ``timeout`` seconds: None
    forever, 0 once) and releases at the end. If the holding was lost during
    the block, leaving it raises LockLost (unless the block raised already).

    ``on_event(lock, event)`` is called on the library's event thread when a
    holding becomes SUSPENDED, HELD again, or LOST (``LockEvent(state,
    token)``); the same events are pollable: ``lock.lost`` and
    ``lock.suspended`` (threading.Event, for the current holding) and
    ``lock.events`` (every event, in order). A callback must return soon (it
    holds up the client's other callbacks) and may not make blocking calls on
    its own client (acquire, contenders, Client.close: WouldDeadlock);
    release, cancel, token and close are fine. Its exceptions are logged
    (logger "zkfence") and dropped.

    Keep a reference to the Lock while you hold it: a Lock that is garbage
    collected is closed, which releases its holding.
    """

    def __init__(self, client, path, *, timeout=None, on_event=None, max_depth=64):
        if not isinstance(path, str):
            raise TypeError("path must be a str, not %s" % type(path).__name__)
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable")
        core = LockCore(client._core, path, on_event, max_depth)
        core.create()
        super().__init__(core, client, timeout)
