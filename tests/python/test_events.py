"""Lost, suspended and held-again: delivered to the callbacks, pollable as
threading.Event and EventLog, and what the token and release say then."""
import logging
import queue
import signal
import threading

import pytest

import zkfence
from conftest import SESSION, SOON, expire_session, expiry, wait_until

LOST, SUSPENDED, HELD = zkfence.LockState.LOST, zkfence.LockState.SUSPENDED, zkfence.LockState.HELD


def test_session_expiry_loses_the_holding(zk_hosts, path):
    states, events, threads = [], [], set()
    with zkfence.Client(zk_hosts, session_timeout=SESSION,
                        on_state=lambda c, s: states.append(s)) as zk:
        def on_event(lock, ev):
            threads.add(threading.get_ident())
            events.append((lock, ev))

        lock = zk.lock(path, on_event=on_event)
        token = lock.acquire()
        assert not lock.lost.is_set()
        assert wait_until(lambda: zkfence.ClientState.CONNECTED in states)
        old_session = zk.session_id
        expire_session(zk)
        assert lock.lost.wait(expiry(SESSION)), "no LOST within the deadline"
        # The second handle takes the session over, then closes it: the
        # connection may drop and come back first (SUSPENDED, HELD).
        logged = []
        while len(lock.events):
            logged.append(lock.events.get_nowait())
        assert logged[-1] == zkfence.LockEvent(LOST, token), logged
        assert {ev.state for ev in logged[:-1]} <= {SUSPENDED, HELD}, logged
        assert {ev.token for ev in logged} == {token}
        with pytest.raises(queue.Empty):
            lock.events.get_nowait()
        assert wait_until(lambda: [ev for _, ev in events] == logged)  # the callback saw the same
        assert all(lk is lock for lk, _ in events)
        assert threading.get_ident() not in threads  # the library's event thread ran them
        assert lock.state == LOST
        with pytest.raises(zkfence.LockLost):
            lock.token  # never reported again
        with pytest.raises(zkfence.LockLost):
            lock.release()  # says so, and resets the object
        assert lock.state == zkfence.LockState.UNLOCKED
        assert lock.lost.is_set()  # until the next acquisition
        assert zk.wait_for_state(zkfence.ClientState.CONNECTED, timeout=expiry(SESSION))
        assert zkfence.ClientState.EXPIRED in states
        assert zk.session_id not in (0, old_session)
        again = lock.acquire(timeout=SOON)
        assert again > token and not lock.lost.is_set()
        lock.release()


def test_lost_during_with_raises_at_its_end(zk_hosts, path):
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as zk:
        lock = zk.lock(path)
        with pytest.raises(zkfence.LockLost):
            with lock:
                expire_session(zk)
                assert lock.lost.wait(expiry(SESSION))
        assert lock.state == zkfence.LockState.UNLOCKED


def test_suspended_then_held_again(zk_hosts, relay, path):
    """The link to ZooKeeper drops and comes back within the session: the
    holding is SUSPENDED (token withheld), then HELD again, same token."""
    seen = []
    with zkfence.Client(relay.address, session_timeout=SESSION) as zk:
        lock = zk.lock(path, on_event=lambda lk, ev: seen.append(ev))
        token = lock.acquire()
        relay.cut()
        assert lock.suspended.wait(SOON)
        assert lock.state == SUSPENDED
        with pytest.raises(zkfence.ConnectionLoss) as e:
            lock.token
        assert "suspended" in str(e.value)
        relay.restore()
        assert wait_until(lambda: lock.state == HELD, expiry(SESSION))
        assert wait_until(lambda: not lock.suspended.is_set())
        assert lock.token == token
        assert not lock.lost.is_set()
        assert seen[:2] == [zkfence.LockEvent(SUSPENDED, token), zkfence.LockEvent(HELD, token)]
        assert [lock.events.get(timeout=0) for _ in range(2)] == seen[:2]
        lock.release()


def test_paused_holder_process_learns_it_lost(children, client, path):
    """A holder process is stopped (SIGSTOP) past its session: another
    client gets the lock with a higher token; woken, the holder is told
    LOST (callback, Event, token refused)."""
    kid = children("holder.py", client.hosts, path, 2.0)
    first = kid.read()
    assert first["held"] is True
    kid.signal(signal.SIGSTOP)
    try:
        lock = client.lock(path)
        token = lock.acquire(timeout=expiry(first["session_timeout"]))
        assert token > first["token"]
    finally:
        kid.signal(signal.SIGCONT)
    report = kid.read(timeout=expiry(first["session_timeout"]))
    assert report["lost_event"] == ["LOST", first["token"]], report
    assert report["token_error"] == "LockLost" and report["release_error"] == "LockLost"
    rc, _, err = kid.finish()
    assert rc == 0, err
    lock.release()


def test_callback_exceptions_are_logged_not_raised(zk_hosts, path, caplog):
    calls = []

    def bad(lock, ev):
        calls.append(ev)
        raise RuntimeError("a bug in the application's callback")

    with caplog.at_level(logging.ERROR, logger="zkfence"):
        with zkfence.Client(zk_hosts, session_timeout=SESSION) as zk:
            lock = zk.lock(path, on_event=bad)
            lock.acquire()
            expire_session(zk)
            assert lock.lost.wait(expiry(SESSION))
            assert wait_until(lambda: any("a bug in the application" in r.exc_text
                                          for r in caplog.records if r.exc_text))
            # The library goes on: the session is replaced, the lock works.
            with pytest.raises(zkfence.LockLost):
                lock.release()
            assert lock.acquire(timeout=SOON)
            lock.release()
    assert calls and calls[-1].state == LOST
    rec = [r for r in caplog.records if r.exc_text][0]
    assert "on_event callback of lock %s raised" % path in rec.getMessage()


def test_blocking_calls_from_a_callback_are_refused(zk_hosts, path):
    """A blocking call on its own client from a callback would wait for
    itself: WouldDeadlock, not a hang. (Releasing is not blocking, but the
    holding belongs to the thread that acquired it.)"""
    out = {}

    def on_event(lock, ev):
        for name, call in (("contenders", lambda: lock.client.contenders(path)),
                           ("acquire", lock.acquire),
                           ("close", lock.client.close)):
            try:
                call()
                out[name] = "ran"
            except zkfence.WouldDeadlock as e:
                out[name] = str(e)
        try:
            lock.release()
            out["release"] = "ran"
        except zkfence.ZkfenceError as e:
            out["release"] = type(e).__name__
        out["done"] = True

    with zkfence.Client(zk_hosts, session_timeout=SESSION) as zk:
        lock = zk.lock(path, on_event=on_event)
        lock.acquire()
        expire_session(zk)
        assert wait_until(lambda: out.get("done"), expiry(SESSION))
    for name in ("contenders", "acquire", "close"):
        assert "from a callback of its own client" in out[name], out
    # Held by the main thread: the callback's thread is not its owner.
    assert out["release"] == "NotOwner"
