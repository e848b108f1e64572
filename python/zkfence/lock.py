"""The exclusive lock (zkf_lock_t): Client.lock(path) makes one.

    lock = client.lock("/locks/seat-12", timeout=30)
    with lock as token:          # acquire; release at the end
        ...                      # send `token` with every request

The recipe (zkfence.h): an ephemeral-sequential node per acquisition, each
waiter watching only its predecessor (FIFO, no herd); the token is the
node's creation zxid, which strictly increases from holder to holder.
"""
from ._ffi import lib
from ._holding import LockEvent, LockState  # noqa: F401 (re-exported)
from ._holding import Holding, HoldingCore, c_functions, trampolines

_acquired_trampoline, _event_trampoline = trampolines("zkf_lock_t")


@c_functions("zkf_lock")
class LockCore(HoldingCore):
    kind = "lock"
    c_type = "zkf_lock_t"

    def c_create(self, client_ptr, path, arg, out):
        opts = self.c_options("zkf_lock_options_t *", lib.zkf_lock_options_init,
                              _event_trampoline, arg)
        return lib.zkf_lock_create(client_ptr, path, opts, out)

    def c_acquire_async(self, ptr, timeout_ms, arg):
        return lib.zkf_lock_acquire_async(ptr, timeout_ms, _acquired_trampoline, arg)


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
        super().__init__(LockCore.make(client, path, on_event, max_depth), client, timeout)
