"""zkfence: ZooKeeper locks with fencing tokens, over libzkfence: the
exclusive Lock, the ReadWriteLock, the Semaphore and the leader Election.

    import zkfence

    with zkfence.Client("127.0.0.1:2181") as zk:
        with zk.lock("/locks/seat-12", timeout=30) as token:
            ...  # send `token` with every request to the resource, reads too

zkfence.boto3.fence(s3, lock) makes every request of a boto3 S3 client carry
the lock's name and current token, for zkfence-proxy. See python/README.md.
"""
from ._ffi import LIBRARY, VERSION as LIBRARY_VERSION
from .client import Client, ClientState, Contender, Participant
from .errors import (
    AuthFailed,
    Cancelled,
    ClientClosed,
    ConnectFailed,
    ConnectionLoss,
    DepthExceeded,
    InProgress,
    InvalidArgument,
    LimitMismatch,
    LockBusy,
    LockLost,
    LockTimeout,
    NotAcquired,
    NotHeld,
    NotOwner,
    OutOfMemory,
    ReleasePending,
    SessionError,
    SessionExpired,
    SystemFailure,
    WouldDeadlock,
    ZkfenceError,
    ZooKeeperError,
)
from ._holding import EventLog, LockEvent, LockState
from .lock import Lock
from .rwlock import ReadWriteLock, RWLockSide
from .semaphore import Lease, Semaphore
from .election import Election, ElectionEvent, ElectionState

__version__ = "0.1.0"

__all__ = [
    "LIBRARY", "LIBRARY_VERSION", "Client", "ClientState", "Contender", "Lock", "LockState",
    "LockEvent", "EventLog", "ZkfenceError", "NotAcquired", "SessionError", "InvalidArgument",
    "OutOfMemory", "LockTimeout", "Cancelled", "ConnectionLoss", "SessionExpired", "LockLost",
    "LockBusy", "NotHeld", "NotOwner", "DepthExceeded", "InProgress", "AuthFailed",
    "ConnectFailed", "ClientClosed", "ZooKeeperError", "SystemFailure", "ReleasePending",
    "WouldDeadlock", "LimitMismatch", "ReadWriteLock", "RWLockSide", "Semaphore", "Lease",
    "Election", "ElectionState", "ElectionEvent", "Participant",
]
