"""zkfence.Semaphore: at most N leases, tokens, the stored N
(LimitMismatch), giving up, Ctrl-C, and a session expiry reported as lost."""
import threading

import pytest

import zkfence
from conftest import (SESSION, SOON, HolderThread, expire_session, expiry,
                      interrupt_a_waiting_child, wait_until)


def test_at_most_n_leases(client, zk_hosts, path):
    sem = client.semaphore(path, 2)
    assert sem.max_leases == 2
    first, second = sem.lease(), sem.lease()
    t1, t2 = first.acquire(), second.acquire()
    assert t1 != t2 and first.held and second.held
    assert first.node.startswith("lease-")
    assert [c.token for c in sem.leases()] == [t1, t2]
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as other:
        third = other.semaphore(path, 2).lease()
        with pytest.raises(zkfence.LockBusy):
            third.acquire(timeout=0)
        with pytest.raises(zkfence.LockTimeout):
            third.acquire(timeout=0.3)
        assert [c.token for c in sem.leases()] == [t1, t2]  # given up: nothing left
        waiter = HolderThread(third)
        assert wait_until(lambda: len(sem.leases()) == 3)  # the gate holder's node, waiting
        assert not waiter.acquired.is_set()
        second.release()  # in any order
        assert waiter.acquired.wait(SOON) and waiter.error is None
        assert waiter.token > max(t1, t2)  # greater than every lease granted before it
        assert [c.token for c in sem.leases()] == [t1, waiter.token]
        waiter.finish()
    first.release()
    assert sem.leases() == []


def test_the_lease_as_a_context_manager(client, path):
    sem = client.semaphore(path, 3, timeout=SOON)
    tokens = []
    with sem.lease() as a, sem.lease() as b, sem.lease() as c:
        tokens += [a, b, c]
        assert [x.token for x in sem.leases()] == tokens
        with pytest.raises(zkfence.LockBusy):
            sem.lease(timeout=0).acquire()
    assert sem.leases() == []
    with sem.lease() as d:
        assert d > max(tokens)


def test_never_more_than_n_holders_across_threads(zk_hosts, path):
    n, inside, peak, guard = 2, [0], [0], threading.Lock()

    def worker():
        with zkfence.Client(zk_hosts, session_timeout=SESSION) as zk:
            lease = zk.semaphore(path, n).lease()
            for _ in range(3):
                with lease:
                    with guard:
                        inside[0] += 1
                        peak[0] = max(peak[0], inside[0])
                    with guard:
                        inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(expiry(SESSION))
        assert not t.is_alive()
    assert 1 <= peak[0] <= n


def test_another_n_is_refused(client, path):
    with client.semaphore(path, 2).lease() as token:
        other = client.semaphore(path, 3).lease()
        with pytest.raises(zkfence.LimitMismatch) as e:
            other.acquire(timeout=SOON)
        assert e.value.code == -19 and e.value.name == "ZKF_ELIMIT"
        assert path in str(e.value)
        assert other.state == zkfence.LockState.UNLOCKED
        assert [c.token for c in client.semaphore(path, 2).leases()] == [token]


def test_not_reentrant(client, path):
    lease = client.semaphore(path, 2).lease()
    with lease:
        with pytest.raises(zkfence.DepthExceeded):
            lease.acquire()
        assert len(client.semaphore(path, 2).leases()) == 1


def test_cancel_a_waiting_lease(client, path):
    sem = client.semaphore(path, 1)
    holder = sem.lease()
    holder.acquire()
    lease = sem.lease()
    assert lease.cancel() is False
    waiter = HolderThread(lease)
    assert wait_until(lambda: lease.state == zkfence.LockState.WAITING)
    assert lease.cancel() is True
    assert waiter.acquired.wait(SOON)
    assert isinstance(waiter.error, zkfence.Cancelled), waiter.error
    waiter.finish()
    holder.release()
    # The cancelled one left nothing at the gate: the next lease comes at once.
    with sem.lease(timeout=0):
        pass


def test_session_expiry_loses_the_lease(client, path):
    events = []
    lease = client.semaphore(path, 2, on_event=lambda l, ev: events.append((l, ev))).lease()
    token = lease.acquire()
    expire_session(client)
    assert lease.lost.wait(expiry(SESSION)), "no LOST within the deadline"
    assert wait_until(lambda: events and events[-1] == (lease, zkfence.LockEvent(
        zkfence.LockState.LOST, token)))
    with pytest.raises(zkfence.LockLost):
        lease.token
    with pytest.raises(zkfence.LockLost):
        lease.release()
    assert lease.state == zkfence.LockState.UNLOCKED
    assert client.wait_for_state(zkfence.ClientState.CONNECTED, timeout=expiry(SESSION))
    assert lease.acquire(timeout=SOON) > token
    lease.release()


def test_keyboard_interrupt_cancels_a_waiting_lease(children, client, path):
    sem = client.semaphore(path, 1)
    with sem.lease():
        interrupt_a_waiting_child(children, path, "lease", sem.leases, "UNLOCKED")


def test_bad_arguments(client, path):
    for n in (0, -1, 1000001):
        with pytest.raises(zkfence.InvalidArgument) as e:
            client.semaphore(path, n).lease()
        assert "N is 1 to 1000000" in str(e.value)
    for n in ("2", 2.0, True):
        with pytest.raises(TypeError):
            client.semaphore(path, n)
    with pytest.raises(zkfence.InvalidArgument):
        client.semaphore("relative", 1).lease()
