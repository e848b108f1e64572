"""What every handle of the package shares: ids for callbacks, the owner of a
C object's life, user callbacks, and the end of the process.

Invariants (each one is a way the binding could crash or hang otherwise):

- C holds no Python object. Each C callback gets an integer id as its
  ``void *arg``; the trampoline looks the id up in ``_objects`` and drops the
  call when it is gone. So an object freed by Python while the library still
  has callbacks queued for it is never touched from C.
- A handle's C object is destroyed once, by ``Handle.close()``, after every
  call in progress on it has returned (``users``), never by ``__del__`` on
  whatever thread drops the last reference: a wrapper that is garbage
  collected hands its handle to the reaper thread (``reap``), which closes
  it. (A wrapper may die on the library's event thread, inside a callback,
  where zkf_client_destroy() would wait for itself.)
- A client's locks are destroyed before the client (zkf_client_destroy
  refuses otherwise), and a lock core keeps its client core alive.
- No Python lock that a callback takes is held across a C call that waits
  for callbacks (zkf_lock_destroy, zkf_client_destroy): the closer marks the
  handle closing, waits for the calls in progress, then calls C holding
  nothing a callback needs. Calls made on a closing handle fail at once
  (ClientClosed) instead of waiting, so a callback never waits for a closer.
- At interpreter exit (atexit, which runs before the interpreter starts to
  finalise, while threads can still run Python) every client still open is
  closed, its locks first. After that the library has no thread left that
  could call into Python: no callback ever runs during finalisation.
- An exception raised by a user callback is logged (logger "zkfence") and
  dropped: it never unwinds into C.
"""
import atexit
import itertools
import logging
import queue
import threading

from . import errors
from ._ffi import ffi

log = logging.getLogger("zkfence")

_objects = {}  # id -> handle or waiter, for the callbacks' void *arg
_ids = itertools.count(1)
_exiting = False


def register(obj):
    """A new id for obj, for a callback's arg; unregister(id) ends it."""
    i = next(_ids)
    _objects[i] = obj
    return i


def unregister(i):
    _objects.pop(i, None)


def as_arg(i):
    return ffi.cast("void *", i)


def lookup(arg):
    """The object registered under a callback's arg, or None."""
    return _objects.get(int(ffi.cast("uintptr_t", arg)))


def trampoline_error(exc, value, tb):
    """cffi's onerror for the trampolines: an exception in the package's own
    callback code (user callbacks are caught before this). Logged, never
    raised into C; the callbacks return void."""
    try:
        log.error("zkfence: internal error in a library callback", exc_info=(exc, value, tb))
    except BaseException:  # logging itself failing (interpreter exit): nothing to do
        pass


def call_user(what, fn, *args):
    """Runs a user callback on the library's event thread; an exception is
    logged and dropped (there is no caller to raise it to)."""
    try:
        fn(*args)
    except BaseException:
        log.exception("zkfence: the %s raised; the exception is ignored", what)


class Handle:
    """Owns one C object: counts the calls in progress on it and closes it
    once. Subclasses implement _destroy() (the C destroy) and set client
    (the ClientCore whose event thread runs their callbacks; self for a
    client)."""

    kind = "handle"

    def __init__(self):
        self._cv = threading.Condition(threading.RLock())
        self._users = 0
        self._closing = False
        self._closed = False
        self._close_mu = threading.Lock()
        self.id = register(self)

    # -- calls on the C object -------------------------------------------------
    def __enter__(self):
        with self._cv:
            if self._closing:
                raise self.closed_error()
            self._users += 1
        return self

    def __exit__(self, *exc):
        with self._cv:
            self._users -= 1
            if self._users == 0 and self._closing:
                self._cv.notify_all()

    def closed_error(self):
        return errors.error(errors.ClientClosed.code, "%s is closed" % self.describe())

    def describe(self):
        return self.kind

    @property
    def closing(self):
        return self._closing

    # -- the end ---------------------------------------------------------------
    def close(self):
        """Destroys the C object once, after the calls in progress. A second
        closer waits for the first; on the event thread (inside a callback)
        it returns at once instead, since the first closer may be waiting
        for that callback."""
        on_event_thread = self.client.on_event_thread()
        if not self._close_mu.acquire(blocking=not on_event_thread):
            return
        try:
            if self._closed:
                return
            with self._cv:
                self._closing = True
                self._cv.notify_all()
                while self._users > 0:
                    self._cv.wait()
            self._destroy()
            self._closed = True
            unregister(self.id)
        finally:
            self._close_mu.release()

    def _destroy(self):
        raise NotImplementedError


# -- the reaper: closes handles whose wrapper was garbage collected ----------
_reap_queue = queue.SimpleQueue()
_reaper = None
_reaper_mu = threading.Lock()


def _reaper_main():
    while True:
        handle = _reap_queue.get()
        try:
            handle.close()
        except BaseException:
            log.exception("zkfence: closing a garbage-collected %s failed", handle.describe())


def start_reaper():
    """Starts the reaper thread once (from a constructor, not from a
    finalizer: finalizers only queue)."""
    global _reaper
    with _reaper_mu:
        if _reaper is None:
            _reaper = threading.Thread(target=_reaper_main, name="zkfence-reaper", daemon=True)
            _reaper.start()


def reap(handle):
    """weakref.finalize target of the wrappers: queue the handle for closing.
    Safe on any thread, inside a callback or the garbage collector."""
    _reap_queue.put(handle)


@atexit.register
def _close_everything():
    global _exiting
    _exiting = True
    for h in list(_objects.values()):
        if getattr(h, "kind", None) == "client":
            try:
                h.close()
            except BaseException:
                log.exception("zkfence: closing %s at exit failed", h.describe())


def exiting():
    return _exiting
