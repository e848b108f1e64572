"""What every recipe that is acquired and released shares: the exclusive
lock, the read/write lock's two sides, the semaphore's leases and the
election's leadership.

A recipe supplies a HoldingCore subclass with its C calls (create, destroy,
acquire_async, cancel, release, token, state, node, zk_error) and the two
trampolines that trampolines() makes for its C type; Holding gives it the Python
interface: acquire (interruptible), release, cancel, ``with``, token,
state, node, events.

Why acquire waits in Python on the asynchronous acquire rather than calling
the blocking one: a thread blocked inside C cannot run Python's signal
handlers, so Ctrl-C would wait for the lock. Waiting on a threading.Event
can be interrupted; the interrupted acquire is then cancelled (our node
and watch removed) before the KeyboardInterrupt propagates. What the
blocking C call did besides (reentrancy for the thread that holds, other
threads of the process waiting their turn locally) is done here, with the
same rules: see Holding.acquire.
"""
import collections
import enum
import math
import queue
import threading
import time
import weakref
from typing import NamedTuple

from . import _runtime, errors
from ._ffi import ffi, lib


class LockState(enum.IntEnum):
    """zkf_lock_state_t."""

    UNLOCKED = 0  # not held, no acquire in progress
    WAITING = 1  # an acquire is in progress
    HELD = 2  # held; the token is valid
    SUSPENDED = 3  # was held; connection lost; may or may not still be held
    LOST = 4  # was held; session expired (or suspended a whole session timeout),
    # or our node was deleted: the token of this holding must not be used again


class LockEvent(NamedTuple):
    """A change of a holding: SUSPENDED, HELD (again, same session) or LOST,
    with the token of the holding concerned."""

    state: LockState
    token: int


class EventLog:
    """A holding's events in order, for polling: get(timeout) or
    get_nowait() (queue.Empty when there is none). Keeps the latest
    ``maxlen``; older ones are dropped and counted in ``dropped``."""

    def __init__(self, maxlen=256):
        self._q = collections.deque(maxlen=maxlen)
        self._cv = threading.Condition(threading.Lock())
        self.dropped = 0

    def put(self, ev):
        with self._cv:
            if len(self._q) == self._q.maxlen:
                self.dropped += 1
            self._q.append(ev)
            self._cv.notify_all()

    def get(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while not self._q:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise queue.Empty
                self._cv.wait(remaining)
            return self._q.popleft()

    def get_nowait(self):
        return self.get(timeout=0)

    def __len__(self):
        with self._cv:
            return len(self._q)


def trampolines(c_type, state_c_type="zkf_lock_state_t"):
    """The two C callbacks of a recipe whose object is ``c_type`` (its
    acquire completion and its event callback), both of the lock's shape:
    they find the waiter or the core by the registered id in ``arg``."""

    @ffi.callback("void(%s *, int, uint64_t, void *)" % c_type,
                  onerror=_runtime.trampoline_error)
    def acquired(obj, status, token, arg):
        w = _runtime.lookup(arg)
        if w is not None:
            w.core.on_acquired(w, status, token)

    @ffi.callback("void(%s *, %s, uint64_t, void *)" % (c_type, state_c_type),
                  onerror=_runtime.trampoline_error)
    def event(obj, state, token, arg):
        core = _runtime.lookup(arg)
        if core is not None:
            core.on_event(int(state), token)

    return acquired, event


def c_functions(prefix):
    """Class decorator of a HoldingCore: its c_destroy, c_cancel, c_release,
    c_token, c_state, c_node and c_zk_error are libzkfence's functions of
    that name under ``prefix`` ("zkf_rwlock": zkf_rwlock_destroy, ...),
    except those the class defines itself."""

    def bind(cls):
        for name in ("destroy", "cancel", "release", "token", "state", "node", "zk_error"):
            if "c_" + name not in cls.__dict__:
                setattr(cls, "c_" + name, staticmethod(getattr(lib, "%s_%s" % (prefix, name))))
        return cls

    return bind


class _Waiter:
    """One asynchronous acquire: its own callback id, so that a completion
    that arrives after its thread stopped waiting finds nothing and is
    dropped, and can never complete a later acquire."""

    __slots__ = ("core", "id", "event", "status", "token", "started")

    def __init__(self, core):
        self.core = core
        self.id = _runtime.register(self)
        self.event = threading.Event()
        self.status = None
        self.token = 0
        self.started = False


def _wait_to_the_end(event):
    """Waits for event, through any further KeyboardInterrupt: used while
    cleaning up after one, when the outcome must be known."""
    while True:
        try:
            event.wait()
            return
        except BaseException:
            continue


class HoldingCore(_runtime.Handle):
    """One C holding object (zkf_lock_t, ...) and its Python-side holding
    state. Everything below ``_cv`` is guarded by it. C calls on ``ptr`` are
    made inside ``with self`` (a counted use) or holding ``_cv`` after
    checking ``_closing``: the closer sets ``_closing`` under ``_cv`` before
    it destroys, so either way the object is alive for the call."""

    kind = "lock"
    state_type = LockState  # what c_state returns, as an enum
    event_type = LockEvent
    create_hint = ("a path is absolute, has no empty component and no trailing '/', is not "
                   "'/', and has at most 1024 bytes")

    def __init__(self, client_core, path, on_event, max_depth):
        super().__init__()
        self.client = client_core
        self.path = path
        self.on_event_fn = on_event
        self.max_depth = max_depth
        self.out = ffi.new(self.c_type + " **")
        self.wrapper = lambda: None
        self.owner = None  # ident of the thread that holds or is acquiring
        self.depth = 0  # levels held by owner (0 while acquiring)
        self.token = None  # token of the current holding
        self.waiter = None
        self.cancel_gen = 0  # bumped by cancel(): wakes the local waiters
        self.local_waiters = 0
        self.lost = threading.Event()
        self.suspended = threading.Event()
        self.events = EventLog()

    @classmethod
    def make(cls, client, path, on_event, *args):
        """A core of this class for ``client`` (a zkfence.Client), its C
        object created: the arguments checked first, as TypeError."""
        if not isinstance(path, str):
            raise TypeError("path must be a str, not %s" % type(path).__name__)
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable")
        core = cls(client._core, path, on_event, *args)
        core.create()
        return core

    @staticmethod
    def c_options(c_type, init, event_cb, arg):
        """A recipe's options struct (``c_type``, a pointer type) filled by
        its ``init``, with the event trampoline and our id as its argument."""
        opts = ffi.new(c_type)
        init(opts)
        opts.event_cb = event_cb
        opts.event_arg = arg
        return opts

    @property
    def ptr(self):
        return self.out[0]

    def describe(self):
        return "%s %s" % (self.kind, self.path)

    def create(self):
        """Creates the C object (c_create) and registers with the client."""
        self.client.add_lock(self)
        try:
            with self.client as c:
                rc = self.c_create(c.ptr, self.path.encode(), _runtime.as_arg(self.id), self.out)
        except BaseException:
            self.close()
            raise
        if rc < 0:
            self.close()
            hint = self.create_hint if rc == errors.InvalidArgument.code else ""
            raise errors.error(rc, "%s %r" % (self.kind, self.path), hint=hint)

    # -- callbacks (the library's event thread) --------------------------------
    def on_acquired(self, waiter, status, token):
        self.client.saw_event_thread()
        with self._cv:
            if status == 0:
                # Set here, not by the acquiring thread: the holding's
                # events, delivered after this on the same thread, find
                # their token even if that thread has not run yet.
                self.token = token
                self.lost.clear()
                self.suspended.clear()
            waiter.status = status
            waiter.token = token
        waiter.event.set()

    def on_event(self, state, token):
        self.client.saw_event_thread()
        ev = self.event_type(self.state_type(state), token)
        # In the log before the Events are set: whoever sees lost set finds
        # the event in the log. The user callback comes last.
        self.events.put(ev)
        with self._cv:
            current = self.token is not None and token == self.token
            if current and ev.state == LockState.LOST:
                self.suspended.clear()
                self.lost.set()
            elif current and ev.state == LockState.SUSPENDED:
                self.suspended.set()
            elif current and ev.state == LockState.HELD:
                self.suspended.clear()
        w = self.wrapper()
        if self.on_event_fn is not None and w is not None:
            _runtime.call_user("on_event callback of %s" % self.describe(), self.on_event_fn, w,
                               ev)

    # -- acquire ---------------------------------------------------------------
    def acquire(self, timeout):
        """Blocks until held; returns the token. timeout: None (forever), 0
        (try once) or seconds."""
        self.client.refuse_on_event_thread("acquire")
        me = threading.get_ident()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            if self._closing:
                raise self.closed_error()
            if self.owner == me and self.depth > 0:
                return self._reenter()
            if self.owner == me:
                raise errors.error(errors.InProgress.code, "%s" % self.describe())
            gen = self.cancel_gen
            self.local_waiters += 1
            try:
                while self.owner is not None:
                    # Another thread of this process holds or is acquiring
                    # this object: wait for it locally, as the C blocking call
                    # does, then queue in ZooKeeper.
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if timeout == 0:
                        raise errors.error(errors.LockBusy.code, self.describe(),
                                           hint="another thread of this process has this object")
                    if self.cancel_gen != gen:
                        raise errors.error(errors.Cancelled.code, self.describe())
                    if remaining is not None and remaining <= 0:
                        raise errors.error(errors.LockTimeout.code, self.describe(),
                                           hint="another thread of this process had this object")
                    self._cv.wait(remaining)
                    if self._closing:
                        raise self.closed_error()
            finally:
                self.local_waiters -= 1
            self.owner = me
            self.depth = 0
            w = self.waiter = _Waiter(self)
        if timeout is None:
            ms = -1
        elif timeout == 0:
            ms = 0
        else:
            ms = max(1, math.ceil((deadline - time.monotonic()) * 1000))
        try:
            with self as s:
                rc = self.c_acquire_async(s.ptr, ms, _runtime.as_arg(w.id))
            if rc < 0:
                w.status = rc
                w.event.set()
            else:
                w.started = True
            w.event.wait()
        except BaseException:
            self._abandon(w)
            raise
        return self._finish(w)

    def _reenter(self):
        st = LockState(self.c_state(self.ptr))
        if st == LockState.LOST:
            raise errors.error(errors.LockLost.code, self.describe())
        if st == LockState.SUSPENDED:
            raise errors.error(errors.ConnectionLoss.code, self.describe(),
                               hint="the holding is suspended")
        if self.depth >= self.max_depth:
            raise errors.error(errors.DepthExceeded.code, self.describe(),
                               hint="max_depth is %d" % self.max_depth)
        self.depth += 1
        return self.token

    def _finish(self, w):
        _runtime.unregister(w.id)
        with self._cv:
            self.waiter = None
            if w.status == 0 and not self._closing:
                self.depth = 1
                return w.token
            self.owner = None
            self.depth = 0
            self._cv.notify_all()
            if self._closing:
                raise errors.error(errors.ClientClosed.code, self.describe(),
                                   hint="closed while acquiring")
            zk = self.c_zk_error(self.ptr) if w.status in (errors.ZooKeeperError.code,) else 0
        hint = ""
        if zk == -101 and self.client.chroot:  # ZNONODE
            hint = "does the chroot %s exist? (it must)" % self.client.chroot
        raise errors.error(w.status, "acquiring %s" % self.describe(), zk_error=zk, hint=hint)

    def _abandon(self, w):
        """The acquiring thread stops waiting (an exception, KeyboardInterrupt
        mostly). Cancel the attempt if it runs, wait for its completion, undo
        a holding it may have got meanwhile: the object is then free again,
        with no node of ours left in the queue."""
        started = w.started
        with self._cv:
            if not self._closing:
                rc = self.c_cancel(self.ptr)
                st = self.c_state(self.ptr)
                # Unknown whether the call returned 0 (the exception may have
                # come right after it): something to cancel, or a holding
                # whose completion is queued, says it did.
                started = started or rc == 0 or st != LockState.UNLOCKED
        if started:
            _wait_to_the_end(w.event)
        _runtime.unregister(w.id)
        with self._cv:
            if started and w.status == 0 and not self._closing:
                self.c_release(self.ptr)
                self.token = None
            self.waiter = None
            self.owner = None
            self.depth = 0
            self._cv.notify_all()

    # -- release, cancel -------------------------------------------------------
    def release(self):
        """Ends one level of the calling thread's holding; at the last, the
        holding. True: the deletion was sent; False: ZooKeeper is unreachable,
        the deletion goes out when it is back (released locally all the
        same). Raises LockLost if the holding had been lost (at every level),
        NotHeld, NotOwner."""
        me = threading.get_ident()
        with self._cv:
            if self._closing:
                raise errors.error(errors.ClientClosed.code, "releasing %s" % self.describe(),
                                   hint="closing it ended any holding")
            if self.owner is None or self.depth == 0:
                raise errors.error(errors.NotHeld.code, "releasing %s" % self.describe())
            if self.owner != me:
                raise errors.error(errors.NotOwner.code, "releasing %s" % self.describe())
            if self.depth > 1:
                self.depth -= 1
                if self.c_state(self.ptr) == LockState.LOST:
                    raise errors.error(errors.LockLost.code, "releasing %s" % self.describe())
                return True
            rc = self.c_release(self.ptr)
            self.ended()
        return self.release_outcome(rc, "releasing")

    def ended(self):
        """The holding is over (released, stepped down): no owner, no token.
        Called holding _cv."""
        self.owner = None
        self.depth = 0
        self.token = None
        self._cv.notify_all()

    def release_outcome(self, rc, doing):
        """What release() returns for the C release's code: True (the
        deletion was sent), False (ZKF_EPENDING); raises the others."""
        if rc == 0:
            return True
        if rc == errors.ReleasePending.code:
            return False
        raise errors.error(rc, "%s %s" % (doing, self.describe()))

    def cancel(self):
        """Cancels the acquire in progress and wakes the threads waiting
        locally for this object (Cancelled). True if there was something to
        cancel."""
        with self._cv:
            if self._closing:
                return False
            local = self.local_waiters > 0
            if local:
                self.cancel_gen += 1
                self._cv.notify_all()
            rc = self.c_cancel(self.ptr)
        return local or rc == 0

    # -- queries ---------------------------------------------------------------
    def current_token(self):
        tok = ffi.new("uint64_t *")
        with self as s:
            rc = self.c_token(s.ptr, tok)
        if rc == 0:
            return tok[0]
        hint = "the holding is suspended (connection lost)" if (
            rc == errors.ConnectionLoss.code) else ""
        raise errors.error(rc, "the token of %s" % self.describe(), hint=hint)

    def state(self):
        with self as s:
            return self.state_type(self.c_state(s.ptr))

    def node(self):
        size = 256
        while True:
            buf = ffi.new("char[]", size)
            with self as s:
                rc = self.c_node(s.ptr, buf, size)
            if rc == 0:
                return ffi.string(buf).decode()
            if rc == errors.NotHeld.code:
                return None
            if rc != errors.InvalidArgument.code or size >= 65536:
                raise errors.error(rc, "the node of %s" % self.describe())
            size *= 8

    def zk_error(self):
        with self as s:
            return self.c_zk_error(s.ptr)

    # -- the end ---------------------------------------------------------------
    def _destroy(self):
        if self.out[0] != ffi.NULL:
            # Cancels an acquire in progress (its completion runs first) and
            # releases a holding; off the event thread it also waits for the
            # callbacks still queued for this object.
            self.c_destroy(self.out[0])
            self.out[0] = ffi.NULL
        with self._cv:
            self.owner = None
            self.depth = 0
            self.token = None
            self._cv.notify_all()
        self.client.forget_lock(self)


_DEFAULT = object()


class Holding:
    """The Python face of a HoldingCore: what zkfence.Lock (and the other
    recipes' holdings) offer. Not made directly: Client.lock() and the
    like."""

    _core = None

    def __init__(self, core, client, timeout):
        self._core = core
        self.client = client  # keeps the Client (and its session) alive while this lives
        self.timeout = timeout
        core.wrapper = weakref.ref(self)
        weakref.finalize(self, _runtime.reap, core).atexit = False

    @property
    def path(self):
        return self._core.path

    def acquire(self, timeout=_DEFAULT, blocking=True):
        """Acquires; returns the fencing token (an int).

        ``timeout``: seconds (a float is fine); None waits forever, 0 tries
        once; by default the ``timeout`` given when the object was made.
        ``blocking=False`` is ``timeout=0``. Raises LockTimeout, LockBusy
        (try-lock), Cancelled (cancel() from another thread), SessionExpired,
        ConnectionLoss (the wait ended while ZooKeeper was unreachable),
        LockLost (our node deleted while we waited), ZooKeeperError, ...

        Reentrant: the thread that holds it may acquire again (up to
        max_depth), getting the same token; each acquire needs its release.
        Other threads of this process wait for that thread's release first
        (within their timeout), then queue in ZooKeeper.

        Interruptible: a KeyboardInterrupt (or any exception) while waiting
        cancels the attempt, removing our node, before it propagates; if the
        lock was granted in that instant, it is released.
        """
        if timeout is _DEFAULT:
            timeout = self.timeout
        if not blocking:
            timeout = 0
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
                raise errors.error(errors.InvalidArgument.code,
                                   "timeout must be None or seconds >= 0, not %r" % (timeout,))
        return self._core.acquire(timeout)

    def release(self):
        return self._core.release()

    def cancel(self):
        return self._core.cancel()

    def close(self):
        """Destroys the object: cancels an acquire in progress, releases a
        holding. Later calls raise ClientClosed. No-op when closed."""
        self._core.close()

    @property
    def closed(self):
        return self._core.closing

    @property
    def token(self):
        """The token of the current holding. Raises NotHeld, LockLost (the
        holding was lost: its token is never reported again), ConnectionLoss
        (suspended: it may or may not still be held)."""
        return self._core.current_token()

    @property
    def state(self):
        """LockState."""
        return self._core.state()

    @property
    def held(self):
        """True while the state is HELD (the token valid; LEADER for an
        election)."""
        return self._core.state() == LockState.HELD

    @property
    def node(self):
        """Our node's name while acquiring or holding, else None."""
        return self._core.node()

    @property
    def zk_error(self):
        """The ZooKeeper code of the last failed operation (0 if none)."""
        return self._core.zk_error()

    @property
    def lost(self):
        """threading.Event, set when the current holding is lost (cleared by
        the next successful acquire)."""
        return self._core.lost

    @property
    def suspended(self):
        """threading.Event, set while the current holding is suspended."""
        return self._core.suspended

    @property
    def events(self):
        """EventLog of LockEvent, every holding's events in order."""
        return self._core.events

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.release()
        except errors.ZkfenceError:
            # The body's own exception says more; a lost holding is raised
            # only when the body ended normally: its work may not have been
            # alone (the proxy fenced what went through it).
            if exc_type is None:
                raise

    def __repr__(self):
        core = self._core
        if core.closing:
            return "<zkfence.%s %s closed>" % (type(self).__name__, core.path)
        st = core.state()
        tok = " token %d" % core.token if st == LockState.HELD and core.token else ""
        return "<zkfence.%s %s %s%s>" % (type(self).__name__, core.path, st.name.lower(), tok)
