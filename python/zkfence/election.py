"""Leader election (zkf_election_t): Client.election(path) makes a
participant.

    e = client.election("/services/scheduler", id="host-a")
    token = e.lead()             # blocks until this participant leads
    ...                          # lead; send `token` with every write
    e.step_down()                # or close(): the next one leads

or ``with e as token:``, leading for the block. Being leader is holding an
exclusive lock on the election (zkfence.h): candidate-<guid>-<seq> nodes,
the lowest leads, each waits on the one before it; the token is the
leader's node czxid, greater than every earlier leader's. The events are
the lock's under their election names: SUSPENDED, LEADER (again), LOST,
and after step_down(rejoin=True) FOLLOWER then LEADER (a new token), or
IDLE if the session ended first.
"""
import enum
from typing import NamedTuple

from . import errors
from ._ffi import ffi, lib
from ._holding import Holding, HoldingCore, c_functions, trampolines

_acquired_trampoline, _event_trampoline = trampolines("zkf_election_t", "zkf_election_state_t")


class ElectionState(enum.IntEnum):
    """zkf_election_state_t: the lock's states under their election names
    (same values: LEADER == LockState.HELD)."""

    IDLE = 0  # not taking part
    FOLLOWER = 1  # taking part, not leader
    LEADER = 2  # leader; the token is valid
    SUSPENDED = 3  # was leader; connection lost: may or may not still be
    LOST = 4  # was leader; another may lead now: the token must not be used again


class ElectionEvent(NamedTuple):
    """A change of this participant: SUSPENDED, LEADER, LOST, FOLLOWER (a
    rejoin queued), IDLE (a rejoin's wait ended: the session ended), with
    the token of the leadership concerned (0 for FOLLOWER and IDLE)."""

    state: ElectionState
    token: int


@c_functions("zkf_election")
class ElectionCore(HoldingCore):
    kind = "election"
    c_type = "zkf_election_t"
    state_type = ElectionState
    event_type = ElectionEvent
    create_hint = HoldingCore.create_hint + "; an id has at most 1024 bytes"

    def __init__(self, client_core, path, on_event, participant_id):
        super().__init__(client_core, path, on_event, 1)  # leading twice: DepthExceeded
        self.participant_id = participant_id

    def c_create(self, client_ptr, path, arg, out):
        opts = self.c_options("zkf_election_options_t *", lib.zkf_election_options_init,
                              _event_trampoline, arg)
        pid = ffi.new("char[]", self.participant_id.encode()) if self.participant_id else None
        if pid is not None:
            opts.id = pid  # copied by zkf_election_create
        return lib.zkf_election_create(client_ptr, path, opts, out)

    def c_acquire_async(self, ptr, timeout_ms, arg):
        return lib.zkf_election_lead_async(ptr, timeout_ms, _acquired_trampoline, arg)

    @staticmethod
    def c_release(ptr):
        return lib.zkf_election_step_down(ptr, 0)


    def on_event(self, state, token):
        if state == ElectionState.LEADER:
            with self._cv:
                if token != self.token:
                    # Elected again after a rejoin: a new leadership, whose
                    # lost/suspended events the Events follow from here.
                    self.token = token
                    self.lost.clear()
                    self.suspended.clear()
        super().on_event(state, token)

    def step_down(self, rejoin):
        """zkf_election_step_down, from any thread (leadership belongs to the
        participant, not to the thread that called lead)."""
        with self._cv:
            if self._closing:
                raise errors.error(errors.ClientClosed.code, "stepping down from %s"
                                   % self.describe())
            if self.waiter is not None:
                raise errors.error(errors.InProgress.code, "stepping down from %s"
                                   % self.describe(), hint="lead() is waiting: use cancel()")
            rc = lib.zkf_election_step_down(self.ptr, 1 if rejoin else 0)
            self.ended()
        return self.release_outcome(rc, "stepping down from")


class Election(Holding):
    """A participant of the leader election at one ZooKeeper path. Made by
    Client.election(path, id=None, timeout=None, on_event=None) or
    Election(client, path, ...); it takes part from lead() on.

    ``lead(timeout=...)`` blocks until this participant leads and returns
    the leadership's token (LockTimeout, LockBusy with timeout 0, Cancelled
    by cancel() from another thread; Ctrl-C leaves the election before the
    KeyboardInterrupt propagates), as Lock.acquire; ``with election as
    token:`` leads for the block and steps down at its end (LockLost if the
    leadership was lost meanwhile). ``step_down(rejoin=False)`` ends the
    leadership from any thread; with ``rejoin`` it queues again at once
    (events FOLLOWER, then LEADER with a new token). ``state`` is an
    ElectionState, ``leader`` True while LEADER; ``lost``, ``suspended``
    and ``events`` (ElectionEvent) as for Lock; ``on_event(election,
    event)`` on the library's event thread. ``id`` (at most 1024 bytes) is
    shown by participants().
    """

    def __init__(self, client, path, *, id=None, timeout=None, on_event=None):
        if id is not None and not isinstance(id, str):
            raise TypeError("id must be a str, not %s" % type(id).__name__)
        super().__init__(ElectionCore.make(client, path, on_event, id), client, timeout)

    lead = Holding.acquire

    def step_down(self, rejoin=False):
        """Steps down: our node is deleted (the next participant leads) and
        the token is void. True: the deletion was sent; False: ZooKeeper is
        unreachable, it goes out when it is back. Raises LockLost (the
        leadership had been lost; the participant is reset, and rejoins if
        asked), NotHeld (not leader nor lost nor rejoined), InProgress
        (lead() is waiting: use cancel())."""
        return self._core.step_down(rejoin)

    def release(self):
        """step_down() without rejoin, by the thread that called lead (as
        Lock.release): what ``with`` calls."""
        return self._core.release()

    @property
    def leader(self):
        """True while this participant leads (the token valid)."""
        return self._core.state() == ElectionState.LEADER

    @property
    def id(self):
        return self._core.participant_id

    def participants(self):
        """The participants, the leader first, then in the order they would
        lead (Participant). Blocking for a round trip."""
        return self.client.participants(self.path)
