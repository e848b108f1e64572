"""zkfence.ReadWriteLock: readers share, a writer excludes, tokens, giving
up, Ctrl-C, and a session expiry reported as lost."""
import threading

import pytest

import zkfence
from conftest import (SESSION, SOON, HolderThread, expire_session, expiry,
                      interrupt_a_waiting_child, wait_until)


@pytest.fixture
def other(zk_hosts):
    """A second session: another contender."""
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as c:
        yield c


def modes(rw):
    return [c.node.split("-")[0] for c in rw.contenders()]


def test_readers_share(client, other, path):
    a, b = client.rwlock(path), other.rwlock(path)
    assert a.read_lock.mode == "read" and a.write_lock.mode == "write"
    with a.read_lock as ta:
        with b.read_lock as tb:
            assert a.read_lock.held and b.read_lock.held
            assert ta != tb  # overlapping readers hold different tokens
            assert a.read_lock.node.startswith("read-")
            assert modes(a) == ["read", "read"]
    # b's delete went out on its own session, not awaited: a listing on ours
    # may come first.
    assert wait_until(lambda: a.contenders() == [])


def test_a_writer_excludes_readers_and_writers(client, other, path):
    a, b = client.rwlock(path), other.rwlock(path)
    t_read = a.read_lock.acquire()
    with pytest.raises(zkfence.LockBusy):
        b.write_lock.acquire(timeout=0)
    with pytest.raises(zkfence.LockTimeout):
        b.write_lock.acquire(timeout=0.3)
    assert modes(a) == ["read"]  # given up: no node of the writer left
    writer = HolderThread(b.write_lock)
    assert wait_until(lambda: modes(a) == ["read", "write"])
    assert not writer.acquired.is_set()
    # A reader that comes after a queued writer waits for it (FIFO).
    c = client.rwlock(path)
    with pytest.raises(zkfence.LockBusy):
        c.read_lock.acquire(timeout=0)
    a.read_lock.release()
    assert writer.acquired.wait(SOON) and writer.error is None
    t_write = writer.token
    assert t_write > t_read
    with pytest.raises(zkfence.LockBusy):
        c.read_lock.acquire(timeout=0)
    with pytest.raises(zkfence.LockBusy):
        c.write_lock.acquire(timeout=0)
    writer.finish()
    assert c.read_lock.acquire(timeout=SOON) > t_write
    c.read_lock.release()
    assert a.contenders() == []


def test_tokens_increase_between_writers(client, other, path):
    tokens = []
    for rw in (client.rwlock(path), other.rwlock(path)) * 3:
        with rw.write_lock as t:
            tokens.append(t)
        with rw.read_lock as t:
            tokens.append(t)
    assert tokens == sorted(set(tokens)), tokens


def test_mutual_exclusion_of_writers_across_threads(zk_hosts, path):
    """Threads of several sessions: writers never overlap each other nor a
    reader; readers may overlap."""
    inside = {"read": 0, "write": 0}
    bad, guard = [], threading.Lock()

    def worker(hosts, mode):
        with zkfence.Client(hosts, session_timeout=SESSION) as zk:
            side = getattr(zk.rwlock(path), mode + "_lock")
            for _ in range(3):
                with side:
                    with guard:
                        inside[mode] += 1
                        if inside["write"] > 1 or (inside["write"] and inside["read"]):
                            bad.append(dict(inside))
                    with guard:
                        inside[mode] -= 1

    threads = [threading.Thread(target=worker, args=(zk_hosts, m))
               for m in ("read", "write", "read", "write")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(expiry(SESSION))
        assert not t.is_alive()
    assert bad == []


def test_cancel_a_waiting_writer(client, other, path):
    a, b = client.rwlock(path), other.rwlock(path)
    a.read_lock.acquire()
    writer = HolderThread(b.write_lock)
    assert wait_until(lambda: modes(a) == ["read", "write"])
    assert b.write_lock.state == zkfence.LockState.WAITING
    assert b.write_lock.cancel() is True
    assert writer.acquired.wait(SOON)
    assert isinstance(writer.error, zkfence.Cancelled), writer.error
    writer.finish()
    assert modes(a) == ["read"]
    a.read_lock.release()


def test_session_expiry_loses_the_write_holding(client, path):
    events = []
    rw = client.rwlock(path, on_event=lambda side, ev: events.append((side, ev)))
    with pytest.raises(zkfence.LockLost):
        with rw.write_lock as token:
            expire_session(client)
            assert rw.write_lock.lost.wait(expiry(SESSION)), "no LOST within the deadline"
            assert rw.write_lock.state == zkfence.LockState.LOST
            with pytest.raises(zkfence.LockLost):
                rw.write_lock.token
    assert wait_until(lambda: events and events[-1][1] == zkfence.LockEvent(
        zkfence.LockState.LOST, token))
    assert all(side is rw.write_lock for side, _ in events)
    assert rw.write_lock.state == zkfence.LockState.UNLOCKED
    assert client.wait_for_state(zkfence.ClientState.CONNECTED, timeout=expiry(SESSION))
    assert rw.write_lock.acquire(timeout=SOON) > token and not rw.write_lock.lost.is_set()
    rw.write_lock.release()


def test_keyboard_interrupt_cancels_a_waiting_writer(children, client, path):
    rw = client.rwlock(path)
    rw.read_lock.acquire()
    interrupt_a_waiting_child(children, path, "write", rw.contenders, "UNLOCKED")
    rw.read_lock.release()


def test_bad_arguments_and_close(client, path):
    with pytest.raises(zkfence.InvalidArgument) as e:
        client.rwlock("relative")
    assert "absolute" in str(e.value)
    with pytest.raises(TypeError):
        client.rwlock(path, on_event="no")
    rw = client.rwlock(path)
    t = rw.write_lock.acquire()
    assert repr(rw.write_lock) == "<zkfence.RWLockSide %s held token %d>" % (path, t)
    rw.close()
    assert rw.read_lock.closed and rw.write_lock.closed
    assert wait_until(lambda: client.rwlock(path).contenders() == [])
    with pytest.raises(zkfence.ClientClosed):
        rw.write_lock.acquire()
