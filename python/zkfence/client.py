"""Client: one ZooKeeper session (zkf_client_t)."""
import datetime
import enum
import math
import threading
import time
import weakref
from dataclasses import dataclass

from . import _runtime, errors
from ._ffi import ffi, lib


class ClientState(enum.IntEnum):
    """zkf_client_state_t."""

    CONNECTING = 0
    CONNECTED = 1
    SUSPENDED = 2  # connection lost; the session may still be alive
    EXPIRED = 3  # the session ended; a new one is being set up
    AUTH_FAILED = 4  # credentials refused; final


@dataclass(frozen=True)
class Contender:
    """One contender for a lock (zkf_contender_t), as Client.contenders lists
    them: the holder first, then the waiters in queue order."""

    node: str  # node name, e.g. "lock-<guid>-0000000007"
    owner: int  # ephemeralOwner: the contender's session id
    token: int  # czxid: the token it holds or will hold
    created_ms: int  # creation time, ms since the epoch (the server's clock)
    sequence: int  # the sequence suffix

    @property
    def created(self):
        """created_ms as an aware datetime (UTC)."""
        return datetime.datetime.fromtimestamp(self.created_ms / 1000, datetime.timezone.utc)


@dataclass(frozen=True)
class Participant:
    """One participant of an election (zkf_participant_t), as
    Client.participants lists them: the leader first, then in the order in
    which they would lead."""

    node: str  # node name, "candidate-<guid>-<seq>"
    id: str  # its id (Client.election(id=...)); "" if none
    owner: int  # ephemeralOwner: its session id
    token: int  # czxid: its token while it leads
    created_ms: int
    sequence: int

    created = Contender.created


def _ms(seconds, what):
    """Seconds (int or float, > 0) as whole milliseconds, rounded up."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise errors.error(errors.InvalidArgument.code,
                           "%s must be a number of seconds > 0, not %r" % (what, seconds))
    ms = math.ceil(seconds * 1000)
    if ms > 2**31 - 1:
        raise errors.error(errors.InvalidArgument.code, "%s is too long: %r s" % (what, seconds))
    return ms


@ffi.callback("void(zkf_client_t *, zkf_client_state_t, void *)",
              onerror=_runtime.trampoline_error)
def _state_trampoline(client, state, arg):
    core = _runtime.lookup(arg)
    if core is not None:
        core.on_state(int(state))


class ClientCore(_runtime.Handle):
    """The zkf_client_t and what the callbacks need; lives until closed (the
    registry holds it), whatever happens to the Client wrapper."""

    kind = "client"

    def __init__(self, hosts, chroot, on_state):
        super().__init__()
        self.client = self
        self.hosts = hosts
        self.chroot = chroot
        self.out = ffi.new("zkf_client_t **")  # the C object, written by zkf_client_connect
        self.event_thread = None  # ident of the library's event thread, once seen
        self.state = ClientState.CONNECTING
        self.locks = set()  # cores of this client's locks (and other recipes) not closed
        self.on_state_fn = on_state
        self.wrapper = lambda: None

    @property
    def ptr(self):
        return self.out[0]

    def describe(self):
        return "client of %s" % self.hosts

    def on_event_thread(self):
        return self.event_thread == threading.get_ident()

    def saw_event_thread(self):
        """Called first by every trampoline of this client's objects."""
        self.event_thread = threading.get_ident()

    def refuse_on_event_thread(self, what):
        if self.on_event_thread():
            raise errors.WouldDeadlock(
                "%s from a callback of its own client would wait for the thread the callback "
                "runs on; call it from another thread" % what)

    def on_state(self, state):
        self.saw_event_thread()
        st = ClientState(state)
        with self._cv:
            self.state = st
            self._cv.notify_all()
        w = self.wrapper()
        if self.on_state_fn is not None and w is not None:
            _runtime.call_user("on_state callback of the %s" % self.describe(),
                               self.on_state_fn, w, st)

    def close(self):
        self.refuse_on_event_thread("Client.close()")
        super().close()

    def add_lock(self, core):
        with self:  # raises ClientClosed once closing
            self.locks.add(core)

    def forget_lock(self, core):
        with self._cv:
            self.locks.discard(core)

    def _destroy(self):
        for core in list(self.locks):
            core.close()
        if self.out[0] != ffi.NULL:
            rc = lib.zkf_client_destroy(self.out[0])
            if rc < 0:  # ZKF_EBUSY: a lock not destroyed; a bug of this package
                raise errors.error(rc, "closing the %s" % self.describe())
            self.out[0] = ffi.NULL
        with self._cv:
            self._cv.notify_all()


class Client:
    """One ZooKeeper session (zkf_client_t), shared by any number of locks
    and threads.

    ``Client(hosts, ...)`` connects and returns once the first session is up
    (or raises). Times are in seconds. A context manager: ``with
    zkfence.Client(...) as zk:`` closes it at the end.

    - ``hosts``: "host:port,host:port" (or a list of "host:port").
    - ``chroot``: every path is relative to it; it must exist (a missing
      chroot makes acquires fail with ZooKeeperError ZNONODE).
    - ``session_timeout`` (default 10; the server may change it, see
      ``session_timeout`` after connecting), ``connect_timeout`` (15).
    - ``digest``: ("user", "password"): the session authenticates, and the
      nodes the library creates are creator-all (plus world-read if
      ``world_readable``).
    - ``on_state(client, state)``: called on the library's event thread at
      every state change, in order (``ClientState``).
    - ``zk_log_level``: libzookeeper's own log (0 off ... 4 debug; default 1,
      errors; process-wide).

    Closing the session (``close()``, the end of ``with``, or the interpreter
    exiting) removes its nodes at once: every lock it holds is released.
    A Client that is garbage collected is closed too (in the background).
    """

    def __init__(self, hosts, *, chroot=None, session_timeout=10.0, connect_timeout=15.0,
                 digest=None, world_readable=False, on_state=None, zk_log_level=None):
        if not isinstance(hosts, str):
            hosts = ",".join(hosts)
        if on_state is not None and not callable(on_state):
            raise errors.error(errors.InvalidArgument.code, "on_state must be callable")
        if _runtime.exiting():
            raise errors.error(errors.ClientClosed.code, "the interpreter is exiting")
        keep = []  # the C strings, alive until zkf_client_connect has copied them

        def cstr(s):
            keep.append(ffi.new("char[]", s.encode()))
            return keep[-1]

        opts = ffi.new("zkf_client_options_t *")
        lib.zkf_client_options_init(opts)
        opts.hosts = cstr(hosts)
        if chroot is not None:
            opts.chroot = cstr(chroot)
        opts.session_timeout_ms = _ms(session_timeout, "session_timeout")
        opts.connect_timeout_ms = _ms(connect_timeout, "connect_timeout")
        if digest is not None:
            user, password = digest
            opts.digest_user = cstr(user)
            opts.digest_password = cstr(password)
        opts.world_readable = 1 if world_readable else 0
        if zk_log_level is not None:
            opts.zk_log_level = int(zk_log_level)
        _runtime.start_reaper()
        core = ClientCore(hosts, chroot, on_state)
        core.wrapper = weakref.ref(self)
        opts.state_cb = _state_trampoline
        opts.state_arg = _runtime.as_arg(core.id)
        # Blocking for up to connect_timeout, not interruptible: a
        # KeyboardInterrupt arrives when it returns. If it arrives right after
        # a successful connect, the session is closed here, not leaked.
        try:
            rc = lib.zkf_client_connect(opts, core.out)
        except BaseException:
            core.close()
            raise
        if rc < 0:
            core.close()
            hint = ""
            if rc == errors.ConnectFailed.code:
                hint = "no session with %s within %.1f s" % (hosts, opts.connect_timeout_ms / 1000)
            raise errors.error(rc, "connecting to ZooKeeper at %s" % hosts, hint=hint)
        self._core = core
        self.hosts = hosts
        self.chroot = chroot
        weakref.finalize(self, _runtime.reap, core).atexit = False

    # -- state -----------------------------------------------------------------
    @property
    def state(self):
        """The session's ClientState."""
        with self._core as c:
            return ClientState(lib.zkf_client_state(c.ptr))

    @property
    def session_id(self):
        """The current session id (0 when none)."""
        with self._core as c:
            return lib.zkf_client_session_id(c.ptr)

    @property
    def session_timeout(self):
        """The session timeout the server negotiated, in seconds (0 when none).
        A suspended client declares its locks lost once this long has passed
        since the server last heard from it."""
        with self._core as c:
            return lib.zkf_client_session_timeout(c.ptr) / 1000.0

    @property
    def closed(self):
        return self._core.closing

    def wait_for_state(self, *states, timeout=None):
        """Waits until the state (as the on_state callbacks report it) is one
        of ``states``; returns it, or None after ``timeout`` seconds."""
        core = self._core
        core.refuse_on_event_thread("Client.wait_for_state()")
        deadline = None if timeout is None else time.monotonic() + timeout
        with core._cv:
            while True:
                st = ClientState(lib.zkf_client_state(core.ptr)) if not core.closing else None
                if st in states:
                    return st
                if core.closing:
                    raise core.closed_error()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                core._cv.wait(remaining)

    # -- recipes ---------------------------------------------------------------
    def lock(self, path, *, timeout=None, on_event=None, max_depth=64):
        """An exclusive lock on ``path`` (zkfence.Lock). No ZooKeeper call yet.
        ``timeout`` is what ``with lock:`` waits (None: forever, 0: try once)."""
        from .lock import Lock

        return Lock(self, path, timeout=timeout, on_event=on_event, max_depth=max_depth)

    def rwlock(self, path, *, timeout=None, on_event=None, max_depth=64):
        """A read/write lock on ``path`` (zkfence.ReadWriteLock: its
        ``read_lock`` and ``write_lock``). No ZooKeeper call yet."""
        from .rwlock import ReadWriteLock

        return ReadWriteLock(self, path, timeout=timeout, on_event=on_event, max_depth=max_depth)

    def semaphore(self, path, n, *, timeout=None, on_event=None):
        """A semaphore of at most ``n`` leases on ``path`` (zkfence.Semaphore:
        ``with sem.lease() as token:``). No ZooKeeper call yet."""
        from .semaphore import Semaphore

        return Semaphore(self, path, n, timeout=timeout, on_event=on_event)

    def election(self, path, *, id=None, timeout=None, on_event=None):
        """A participant of the leader election at ``path``
        (zkfence.Election); it takes part from lead() on."""
        from .election import Election

        return Election(self, path, id=id, timeout=timeout, on_event=on_event)

    def contenders(self, path):
        """The contenders for the lock ``path``, holder first (a list of
        Contender; empty when nobody holds or waits, or the path does not
        exist). Blocking for a round trip; not from a callback of this
        client."""
        return self._list_contenders(lib.zkf_lock_contenders, path, "the contenders of")

    def participants(self, path):
        """The participants of the election at ``path``, the leader first (a
        list of Participant; empty when none or no such path). Blocking for a
        round trip; not from a callback of this client."""
        return self._list(lib.zkf_election_participants, lib.zkf_participants_free,
                          "zkf_participant_t **", path, "listing the participants of %s" % path,
                          lambda e: Participant(
                              node=ffi.string(e.node).decode(),
                              id=ffi.string(e.id).decode(errors="replace"),
                              owner=e.owner, token=e.token, created_ms=e.created_ms,
                              sequence=e.sequence))

    def _list_contenders(self, fn, path, what):
        """A listing of zkf_contender_t by ``fn`` (zkf_lock_contenders,
        zkf_rwlock_contenders, zkf_semaphore_leases) as Contender."""
        return self._list(fn, lib.zkf_contenders_free, "zkf_contender_t **", path,
                          "listing %s %s" % (what, path),
                          lambda e: Contender(node=ffi.string(e.node).decode(), owner=e.owner,
                                              token=e.token, created_ms=e.created_ms,
                                              sequence=e.sequence))

    def _list(self, fn, free, out_type, path, context, convert):
        core = self._core
        core.refuse_on_event_thread(context)
        if not isinstance(path, str):
            raise TypeError("path must be a str, not %s" % type(path).__name__)
        out = ffi.new(out_type)
        count = ffi.new("size_t *")
        with core as c:
            rc = fn(c.ptr, path.encode(), out, count)
        try:
            errors.check(rc, context)
            return [convert(out[0][i]) for i in range(count[0])]
        finally:
            if rc == 0:
                free(out[0], count[0])

    # -- the end ---------------------------------------------------------------
    def close(self):
        """Closes every lock of this client (releasing what they hold), then
        the session. Blocking (a round trip, at most 2 s, then the close); a
        no-op when closed; not from a callback of this client
        (WouldDeadlock)."""
        self._core.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        core = self._core
        if core.closing:
            return "<zkfence.Client %s closed>" % self.hosts
        return "<zkfence.Client %s %s session 0x%x>" % (
            self.hosts, self.state.name.lower(), self.session_id & (2**64 - 1))
