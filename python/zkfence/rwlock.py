"""The read/write lock (zkf_rwlock_t): Client.rwlock(path) makes one.

    rw = client.rwlock("/locks/catalog", timeout=30)
    with rw.read_lock as token:      # shared with other readers
        ...
    with rw.write_lock as token:     # excludes readers and writers
        ...                          # send `token` with every write

The recipe (zkfence.h): one queue of read-<guid>-<seq> and write-<guid>-<seq>
nodes; a writer holds when its node is the lowest, a reader when no write
node lies below its own. Tokens are the nodes' czxids: a write holding's is
greater than every holding's granted before it.

A C object has at most one holding at a time, read or write; each side here
is its own C object, so a ReadWriteLock may hold both at once only by
deadlocking against itself (no upgrade, no downgrade: release one, then
acquire the other).
"""
from ._ffi import lib
from ._holding import Holding, HoldingCore, c_functions, trampolines

_acquired_trampoline, _event_trampoline = trampolines("zkf_rwlock_t")

READ = lib.ZKF_RWLOCK_READ
WRITE = lib.ZKF_RWLOCK_WRITE


@c_functions("zkf_rwlock")
class RWLockCore(HoldingCore):
    c_type = "zkf_rwlock_t"

    def __init__(self, client_core, path, on_event, max_depth, mode):
        super().__init__(client_core, path, on_event, max_depth)
        self.mode = mode
        self.kind = "%s lock" % ("read" if mode == READ else "write")

    def c_create(self, client_ptr, path, arg, out):
        opts = self.c_options("zkf_rwlock_options_t *", lib.zkf_rwlock_options_init,
                              _event_trampoline, arg)
        return lib.zkf_rwlock_create(client_ptr, path, opts, out)

    def c_acquire_async(self, ptr, timeout_ms, arg):
        return lib.zkf_rwlock_acquire_async(ptr, self.mode, timeout_ms, _acquired_trampoline, arg)


class RWLockSide(Holding):
    """One side of a ReadWriteLock (``rw.read_lock`` or ``rw.write_lock``):
    a Holding exactly as zkfence.Lock is (acquire, release, cancel,
    ``with`` yielding the token, events, lost, suspended, Ctrl-C), in its
    mode. Reentrant for the thread that holds it; other threads of the
    process wait for that thread's release first, readers included: for
    readers that share in one process, use one ReadWriteLock per thread."""

    @property
    def mode(self):
        """"read" or "write"."""
        return "read" if self._core.mode == READ else "write"


class ReadWriteLock:
    """A read/write lock on one ZooKeeper path, with fencing tokens. Made by
    Client.rwlock(path, timeout=None, on_event=None, max_depth=64) or
    ReadWriteLock(client, path, ...).

    ``read_lock`` and ``write_lock`` are its two sides (RWLockSide), each
    with its own C object (no ZooKeeper call until acquired). ``timeout``
    and ``on_event(side, event)`` as for Client.lock. Readers overlapping
    in time hold different tokens: do not send a reader's token where a
    read raises a mark (zkfence-proxy's fenced reads), or the older reader
    is refused; fence writes with the writer's token.
    """

    def __init__(self, client, path, *, timeout=None, on_event=None, max_depth=64):
        self.client = client
        self.path = path
        self.read_lock = self._side(READ, timeout, on_event, max_depth)
        try:
            self.write_lock = self._side(WRITE, timeout, on_event, max_depth)
        except BaseException:
            self.read_lock.close()
            raise

    def _side(self, mode, timeout, on_event, max_depth):
        core = RWLockCore.make(self.client, self.path, on_event, max_depth, mode)
        return RWLockSide(core, self.client, timeout)

    def contenders(self):
        """The read and write nodes in queue order (Contender; the node name
        says the mode): the holders first. Blocking for a round trip."""
        return self.client._list_contenders(lib.zkf_rwlock_contenders, self.path,
                                            "the contenders of read/write lock")

    def close(self):
        """Closes both sides (releasing what they hold)."""
        self.read_lock.close()
        self.write_lock.close()

    def __repr__(self):
        return "<zkfence.ReadWriteLock %s: %r, %r>" % (self.path, self.read_lock, self.write_lock)
