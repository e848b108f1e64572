"""The semaphore (zkf_semaphore_t): at most N leases at a time.
Client.semaphore(path, n) makes one.

    sem = client.semaphore("/limits/db-writers", 4, timeout=30)
    with sem.lease() as token:   # one of at most 4 at a time
        ...                      # send `token` with every request

The recipe (zkfence.h, after Apache Curator's InterProcessSemaphoreV2): a
lease node under <path>/leases holds while it is among the first N, behind
a gate (<path>/gate, an exclusive lock) so that a release wakes only the
next in line. N is stored at <path> by the first acquisition: a semaphore
made with another N fails its acquisitions with LimitMismatch. Each lease's
token is its node's czxid: leases held together have different tokens, and
each is greater than those of every lease granted before it.
"""
from ._ffi import lib
from ._holding import _DEFAULT, Holding, HoldingCore, c_functions, trampolines

_acquired_trampoline, _event_trampoline = trampolines("zkf_semaphore_t")


@c_functions("zkf_semaphore")
class LeaseCore(HoldingCore):
    kind = "semaphore"
    c_type = "zkf_semaphore_t"
    create_hint = HoldingCore.create_hint + "; N is 1 to 1000000"

    def __init__(self, client_core, path, on_event, max_leases):
        # Not reentrant (one lease per C object): a thread that holds the
        # lease and acquires again gets DepthExceeded, not a second lease.
        super().__init__(client_core, path, on_event, 1)
        self.max_leases = max_leases

    def c_create(self, client_ptr, path, arg, out):
        opts = self.c_options("zkf_semaphore_options_t *", lib.zkf_semaphore_options_init,
                              _event_trampoline, arg)
        return lib.zkf_semaphore_create(client_ptr, path, self.max_leases, opts, out)

    def c_acquire_async(self, ptr, timeout_ms, arg):
        return lib.zkf_semaphore_acquire_async(ptr, timeout_ms, _acquired_trampoline, arg)


class Lease(Holding):
    """One lease of a Semaphore, made by Semaphore.lease(): a Holding as
    zkfence.Lock is (acquire, release, cancel, ``with`` yielding the token,
    events, lost, suspended, Ctrl-C), except that it is not reentrant (a
    second acquire by the holding thread raises DepthExceeded). Acquiring
    may also raise LimitMismatch (the semaphore's stored N is not this
    one's: nothing was taken). One Lease holds at most one lease at a time:
    make one per concurrent lease."""

    @property
    def max_leases(self):
        return self._core.max_leases


class Semaphore:
    """A semaphore of at most ``n`` leases on one ZooKeeper path, with
    fencing tokens. Made by Client.semaphore(path, n, timeout=None,
    on_event=None) or Semaphore(client, path, n, ...). Makes no ZooKeeper
    call itself: lease() makes the leases, each its own C object.
    ``timeout`` and ``on_event(lease, event)`` are the leases' defaults."""

    def __init__(self, client, path, n, *, timeout=None, on_event=None):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError("n must be an int, not %s" % type(n).__name__)
        self.client = client
        self.path = path
        self.max_leases = n
        self.timeout = timeout
        self.on_event = on_event

    def lease(self, *, timeout=_DEFAULT, on_event=None):
        """A new Lease (not acquired yet; no ZooKeeper call): ``with
        sem.lease() as token:`` takes one lease for the block. ``timeout``
        and ``on_event`` default to the semaphore's. Raises InvalidArgument
        for a bad path or N (1 to 1000000)."""
        core = LeaseCore.make(self.client, self.path, on_event or self.on_event, self.max_leases)
        return Lease(core, self.client, self.timeout if timeout is _DEFAULT else timeout)

    def leases(self):
        """The lease nodes in order of creation (Contender): the first N
        hold; one after them is the next in line's, waiting. Blocking for a
        round trip."""
        return self.client._list_contenders(lib.zkf_semaphore_leases, self.path,
                                            "the leases of semaphore")

    def __repr__(self):
        return "<zkfence.Semaphore %s n=%d>" % (self.path, self.max_leases)
