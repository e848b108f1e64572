"""zkfence's exceptions: one class per ZKF_E* code of libzkfence.

Every exception raised for a library return code is a ZkfenceError with
``code`` (the negative ZKF_E* value), ``name`` ("ZKF_ETIMEDOUT", from
zkf_err_name) and a message that starts with zkf_strerror's text and adds
what the call was about (the lock path, the hosts). ``zk_error`` is the
ZooKeeper return code behind a ZooKeeperError (ZNONODE, ...), 0 otherwise.

The classes group as a caller handles them::

    ZkfenceError
      NotAcquired            the lock was not taken; nothing to undo
        LockTimeout          (also TimeoutError) ZKF_ETIMEDOUT
        LockBusy             ZKF_EBUSY: a try-lock found it taken
        Cancelled            ZKF_ECANCELED
      SessionError           the ZooKeeper session failed the call
        ConnectionLoss       ZKF_ECONNLOSS (also: the holding is suspended)
        SessionExpired       ZKF_ESESSIONEXPIRED
        ConnectFailed        ZKF_ECONNECT
      LockLost               ZKF_ELOCKLOST: the holding is over, its token void
      NotHeld                ZKF_ENOTHELD
      NotOwner               ZKF_ENOTOWNER: held by another thread
      DepthExceeded          ZKF_EDEPTH
      InProgress             ZKF_EINPROGRESS
      AuthFailed             ZKF_ENOAUTH
      ClientClosed           ZKF_ECLOSED: the client (or the lock) was closed
      ZooKeeperError         ZKF_EZK, with zk_error
      InvalidArgument        (also ValueError) ZKF_EINVAL
      OutOfMemory            (also MemoryError) ZKF_ENOMEM
      SystemFailure          ZKF_ESYS
      ReleasePending         ZKF_EPENDING (Lock.release reports it as a value,
                             not by raising)
      LimitMismatch          ZKF_ELIMIT: the semaphore's stored N is not this
                             object's (nothing was taken; retrying will not help)
      WouldDeadlock          (also RuntimeError; no library code) a blocking
                             call from a callback of its own client

The mapping from codes is by number; test_errors.py checks that every
code the library names has its class here, under the library's name.
"""
from ._ffi import ffi, lib


class ZkfenceError(Exception):
    """Base of every error this package raises for a libzkfence code."""

    code = 0
    name = "ZKF_UNKNOWN"

    def __init__(self, message, code=None, zk_error=0):
        super().__init__(message)
        if code is not None:
            self.code = code
            self.name = ffi.string(lib.zkf_err_name(code)).decode()
        self.zk_error = zk_error


class NotAcquired(ZkfenceError):
    """The lock was not taken (timeout, busy, cancelled): nothing to undo."""


class SessionError(ZkfenceError):
    """The ZooKeeper session failed the call."""


def _cls(name, code, bases, doc):
    return type(name, bases, {"code": code, "name": "ZKF_" + _NAMES[code], "__doc__": doc})


# The library's codes (zkfence.h, ZKF_ERRNO_MAP), by number.
_NAMES = {
    -1: "EINVAL",
    -2: "ENOMEM",
    -3: "ETIMEDOUT",
    -4: "ECANCELED",
    -5: "ECONNLOSS",
    -6: "ESESSIONEXPIRED",
    -7: "ELOCKLOST",
    -8: "EBUSY",
    -9: "ENOTHELD",
    -10: "ENOTOWNER",
    -11: "EDEPTH",
    -12: "EINPROGRESS",
    -13: "ENOAUTH",
    -14: "ECONNECT",
    -15: "ECLOSED",
    -16: "EZK",
    -17: "ESYS",
    -18: "EPENDING",
    -19: "ELIMIT",
}

InvalidArgument = _cls("InvalidArgument", -1, (ZkfenceError, ValueError), "ZKF_EINVAL")
OutOfMemory = _cls("OutOfMemory", -2, (ZkfenceError, MemoryError), "ZKF_ENOMEM")
LockTimeout = _cls("LockTimeout", -3, (NotAcquired, TimeoutError), "ZKF_ETIMEDOUT")
Cancelled = _cls("Cancelled", -4, (NotAcquired,), "ZKF_ECANCELED")
ConnectionLoss = _cls("ConnectionLoss", -5, (SessionError,), "ZKF_ECONNLOSS")
SessionExpired = _cls("SessionExpired", -6, (SessionError,), "ZKF_ESESSIONEXPIRED")
LockLost = _cls("LockLost", -7, (ZkfenceError,), "ZKF_ELOCKLOST: the holding is over")
LockBusy = _cls("LockBusy", -8, (NotAcquired,), "ZKF_EBUSY")
NotHeld = _cls("NotHeld", -9, (ZkfenceError,), "ZKF_ENOTHELD")
NotOwner = _cls("NotOwner", -10, (ZkfenceError,), "ZKF_ENOTOWNER")
DepthExceeded = _cls("DepthExceeded", -11, (ZkfenceError,), "ZKF_EDEPTH")
InProgress = _cls("InProgress", -12, (ZkfenceError,), "ZKF_EINPROGRESS")
AuthFailed = _cls("AuthFailed", -13, (ZkfenceError,), "ZKF_ENOAUTH")
ConnectFailed = _cls("ConnectFailed", -14, (SessionError,), "ZKF_ECONNECT")
ClientClosed = _cls("ClientClosed", -15, (ZkfenceError,), "ZKF_ECLOSED")
ZooKeeperError = _cls("ZooKeeperError", -16, (ZkfenceError,), "ZKF_EZK")
SystemFailure = _cls("SystemFailure", -17, (ZkfenceError,), "ZKF_ESYS")
ReleasePending = _cls("ReleasePending", -18, (ZkfenceError,), "ZKF_EPENDING")
LimitMismatch = _cls("LimitMismatch", -19, (ZkfenceError,),
                     "ZKF_ELIMIT: the semaphore's stored N differs from this object's")

BY_CODE = {
    c.code: c
    for c in (
        InvalidArgument, OutOfMemory, LockTimeout, Cancelled, ConnectionLoss, SessionExpired,
        LockLost, LockBusy, NotHeld, NotOwner, DepthExceeded, InProgress, AuthFailed,
        ConnectFailed, ClientClosed, ZooKeeperError, SystemFailure, ReleasePending,
        LimitMismatch,
    )
}

# ZooKeeper's return codes (zookeeper.h, ZOO_ERRORS), for messages.
ZK_ERRORS = {
    -1: "ZSYSTEMERROR",
    -2: "ZRUNTIMEINCONSISTENCY",
    -3: "ZDATAINCONSISTENCY",
    -4: "ZCONNECTIONLOSS",
    -5: "ZMARSHALLINGERROR",
    -6: "ZUNIMPLEMENTED",
    -7: "ZOPERATIONTIMEOUT",
    -8: "ZBADARGUMENTS",
    -9: "ZINVALIDSTATE",
    -13: "ZNEWCONFIGNOQUORUM",
    -14: "ZRECONFIGINPROGRESS",
    -100: "ZAPIERROR",
    -101: "ZNONODE",
    -102: "ZNOAUTH",
    -103: "ZBADVERSION",
    -108: "ZNOCHILDRENFOREPHEMERALS",
    -110: "ZNODEEXISTS",
    -111: "ZNOTEMPTY",
    -112: "ZSESSIONEXPIRED",
    -113: "ZINVALIDCALLBACK",
    -114: "ZINVALIDACL",
    -115: "ZAUTHFAILED",
    -116: "ZCLOSING",
    -117: "ZNOTHING",
    -118: "ZSESSIONMOVED",
    -120: "ZNOWATCHER",
    -123: "ZRECONFIGDISABLED",
    -124: "ZSESSIONCLOSEDREQUIRERECONFIG",
    -125: "ZTHROTTLEDOP",
}


class WouldDeadlock(ZkfenceError, RuntimeError):
    """A blocking call (acquire, contenders, Client.close) made from a callback
    of its own client: it would wait for the thread it runs on."""


def strerror(code):
    """zkf_strerror(code) as str."""
    return ffi.string(lib.zkf_strerror(code)).decode()


def error(code, context="", zk_error=0, hint=""):
    """The exception for a negative library code: its class, and the message
    "<context>: <strerror> (<ZooKeeper code>). <hint>"."""
    msg = strerror(code)
    if zk_error:
        msg += " (%s, ZooKeeper code %d)" % (ZK_ERRORS.get(zk_error, "unknown"), zk_error)
    if context:
        msg = "%s: %s" % (context, msg)
    if hint:
        msg += ". " + hint
    cls = BY_CODE.get(code, ZkfenceError)
    return cls(msg, code=code, zk_error=zk_error)


def check(rc, context="", zk_error=0, hint=""):
    """Raises error(rc, ...) if rc is negative; returns rc otherwise."""
    if rc < 0:
        raise error(rc, context, zk_error, hint)
    return rc
