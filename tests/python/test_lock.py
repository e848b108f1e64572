"""zkfence.Lock: acquire and release, timeouts, try-lock, cancel, the context
manager, reentrancy, threads and processes taking turns, contenders."""
import datetime
import json
import os
import signal
import threading
import time

import pytest

import zkfence
from conftest import SESSION, SOON, wait_until


def test_acquire_release(client, path):
    lock = client.lock(path)
    assert lock.state == zkfence.LockState.UNLOCKED
    assert lock.node is None
    token = lock.acquire()
    assert isinstance(token, int) and token > 0
    assert lock.state == zkfence.LockState.HELD and lock.held
    assert lock.token == token
    assert lock.node.startswith("lock-")
    assert lock.release() is True
    assert lock.state == zkfence.LockState.UNLOCKED
    with pytest.raises(zkfence.NotHeld):
        lock.token
    with pytest.raises(zkfence.NotHeld) as e:
        lock.release()
    assert e.value.code == -9 and e.value.name == "ZKF_ENOTHELD"
    assert path in str(e.value)


def test_context_manager_yields_the_token(client, path):
    with client.lock(path, timeout=SOON) as token:
        assert client.contenders(path)[0].token == token
    assert client.contenders(path) == []


def test_context_manager_releases_when_the_body_raises(client, path):
    lock = client.lock(path)
    with pytest.raises(KeyError):
        with lock:
            raise KeyError("boom")
    assert lock.state == zkfence.LockState.UNLOCKED
    assert client.contenders(path) == []


def test_tokens_increase_from_holder_to_holder(client, path):
    tokens = []
    for _ in range(5):
        with client.lock(path) as t:
            tokens.append(t)
    assert tokens == sorted(set(tokens)), tokens


def test_timeout_and_try(client, zk_hosts, path):
    holder = client.lock(path)
    held = holder.acquire()
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as other:
        lock = other.lock(path)
        t0 = time.monotonic()
        with pytest.raises(zkfence.LockTimeout) as e:
            lock.acquire(timeout=0.3)
        assert time.monotonic() - t0 >= 0.3
        assert isinstance(e.value, TimeoutError) and isinstance(e.value, zkfence.NotAcquired)
        with pytest.raises(zkfence.LockBusy):
            lock.acquire(timeout=0)
        with pytest.raises(zkfence.LockBusy):
            lock.acquire(blocking=False)
        with pytest.raises(zkfence.LockTimeout):
            with other.lock(path, timeout=0.2):
                pass  # never runs
        # Timeouts and try-locks left no node of ours in the queue.
        assert [c.token for c in client.contenders(path)] == [held]
        assert lock.state == zkfence.LockState.UNLOCKED
        holder.release()
        assert lock.acquire(timeout=SOON) > held
        lock.release()


def acquire_in_thread(lock):
    """Starts lock.acquire() (no timeout) on another thread; returns the
    thread and the list that receives the ZkfenceError it raises."""
    caught = []

    def waiter():
        try:
            lock.acquire()
        except zkfence.ZkfenceError as e:
            caught.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    return t, caught


def test_cancel_from_another_thread(client, zk_hosts, path):
    holder = client.lock(path)
    holder.acquire()
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as other:
        lock = other.lock(path)
        assert lock.cancel() is False  # nothing in progress
        t, caught = acquire_in_thread(lock)
        assert wait_until(lambda: len(client.contenders(path)) == 2)
        assert lock.state == zkfence.LockState.WAITING
        assert lock.node == client.contenders(path)[1].node
        assert lock.cancel() is True
        t.join(SOON)
        assert not t.is_alive()
        assert len(caught) == 1 and isinstance(caught[0], zkfence.Cancelled), caught
        assert len(client.contenders(path)) == 1  # our node is gone
        holder.release()


def test_reentrant_in_the_holding_thread(client, path):
    lock = client.lock(path, max_depth=3)
    t = lock.acquire()
    assert lock.acquire() == t
    with lock as t2:
        assert t2 == t
        with pytest.raises(zkfence.DepthExceeded):
            lock.acquire()
    assert lock.release() is True  # one level
    assert lock.held
    lock.release()
    assert not lock.held
    assert client.contenders(path) == []


def test_other_threads_wait_their_turn_locally(client, path):
    lock = client.lock(path)
    first = lock.acquire()
    got, release_now = [], threading.Event()

    def other():
        got.append(lock.acquire(timeout=SOON))
        assert release_now.wait(SOON)
        got.append(lock.release())

    t = threading.Thread(target=other)
    t.start()
    # The other thread waits for this one locally: it has no node yet.
    assert wait_until(lambda: lock._core.local_waiters == 1)
    assert len(client.contenders(path)) == 1
    with pytest.raises(zkfence.NotOwner):
        threading_call(lock.release)
    lock.release()
    assert wait_until(lambda: len(got) == 1)
    assert got[0] > first
    # Held by that thread now: a try-lock here says so at once, and only
    # that thread may release it.
    with pytest.raises(zkfence.LockBusy):
        lock.acquire(timeout=0)
    with pytest.raises(zkfence.NotOwner):
        lock.release()
    release_now.set()
    t.join(SOON)
    assert got[1] is True
    assert client.contenders(path) == []


def threading_call(fn):
    """Runs fn on another thread; re-raises its exception here."""
    out = []

    def run():
        try:
            out.append((True, fn()))
        except BaseException as e:  # noqa: B902 (handed back)
            out.append((False, e))

    t = threading.Thread(target=run)
    t.start()
    t.join(SOON)
    ok, v = out[0]
    if not ok:
        raise v
    return v


def test_cancel_wakes_local_waiters(client, path):
    lock = client.lock(path)
    lock.acquire()
    t, caught = acquire_in_thread(lock)
    assert wait_until(lambda: lock._core.local_waiters == 1)
    assert lock.cancel() is True
    t.join(SOON)
    assert len(caught) == 1 and isinstance(caught[0], zkfence.Cancelled), caught
    assert lock.held  # the holding thread keeps it
    lock.release()


def test_mutual_exclusion_and_order_across_threads(zk_hosts, path):
    """Four clients on four threads, each with its own lock object, take
    turns: never two inside, and the tokens strictly increase in the order
    of the holdings."""
    inside = []
    order = []
    errors = []

    def worker():
        try:
            with zkfence.Client(zk_hosts, session_timeout=SESSION) as c:
                lock = c.lock(path, timeout=SOON * 4)
                for _ in range(5):
                    with lock as token:
                        inside.append(1)
                        if len(inside) != 1:
                            errors.append("two holders at once")
                        order.append(token)
                        inside.pop()
        except BaseException as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SOON * 8)
    assert errors == []
    assert len(order) == 20
    assert order == sorted(order) and len(set(order)) == 20, order


def test_tokens_increase_across_processes(children, zk_hosts, path, tmp_path):
    """Three processes append their token to a file under the lock: the
    file's order is the holdings' order, and the tokens strictly increase."""
    log = tmp_path / "tokens"
    kids = [children("turns.py", zk_hosts, path, log, 5) for _ in range(3)]
    for k in kids:
        rc, out, err = k.finish(timeout=SOON * 4)
        assert rc == 0, err
    tokens = [int(x) for x in log.read_text().split()]
    assert len(tokens) == 15
    assert tokens == sorted(tokens) and len(set(tokens)) == 15, tokens


def test_contenders(client, zk_hosts, path):
    assert client.contenders(path) == []
    holding = client.lock(path)
    token = holding.acquire()
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as other:
        waiting = other.lock(path)
        got = []
        t = threading.Thread(target=lambda: got.append(waiting.acquire(timeout=SOON)))
        t.start()
        assert wait_until(lambda: len(client.contenders(path)) == 2)
        holder, waiter = client.contenders(path)
        assert isinstance(holder, zkfence.Contender)
        assert holder.token == token and holder.owner == client.session_id
        assert holder.node == holding.node
        assert waiter.owner == other.session_id and waiter.token > token
        assert waiter.node == waiting.node
        assert waiter.sequence > holder.sequence
        assert holder.node.endswith("%010d" % holder.sequence)
        age = datetime.datetime.now(datetime.timezone.utc) - holder.created
        assert abs(age.total_seconds()) < 3600, holder.created  # the server's clock
        holding.release()
        t.join(SOON)
        assert got == [waiter.token]  # the waiter's token is the one it was listed with
        assert [c.owner for c in client.contenders(path)] == [other.session_id]
    assert client.contenders(path) == []  # closing the session removed its node


def test_keyboard_interrupt_cancels_the_wait(children, client, path):
    """Ctrl-C while waiting: the child's acquire raises KeyboardInterrupt at
    once, and its node has left the queue while its session lives on."""
    holder = client.lock(path)
    holder.acquire()
    kid = children("interrupted.py", os.environ["ZKFENCE_TEST_ZK"], path)
    assert kid.read() == {"waiting": True}
    assert wait_until(lambda: len(client.contenders(path)) == 2)
    kid.signal(signal.SIGINT)
    got = kid.read()
    assert got["interrupted"] is True and got["state"] == "UNLOCKED", got
    assert got["node"] is None
    # Removed by the cancellation, not by the end of the session: it is
    # still open (the child waits for "exit").
    assert wait_until(lambda: len(client.contenders(path)) == 1)
    assert client.contenders(path)[0].token == holder.token
    kid.send("exit")
    rc, _, err = kid.finish()
    assert rc == 0, err
    holder.release()


def test_bad_arguments(client):
    for bad in ("relative", "/", "/trailing/", "//empty", "/x" * 600):
        with pytest.raises(zkfence.InvalidArgument) as e:
            client.lock(bad)
        assert isinstance(e.value, ValueError)
        assert "absolute" in str(e.value)
    lock = client.lock("/zkfence-py/args")
    for bad in (-1, "1", True):
        with pytest.raises(zkfence.InvalidArgument):
            lock.acquire(timeout=bad)
    with pytest.raises(TypeError):
        client.lock(b"/bytes")


def test_closed_lock(client, path):
    lock = client.lock(path)
    lock.acquire()
    lock.close()
    assert lock.closed
    assert client.contenders(path) == []  # closing released it
    for call in (lock.acquire, lock.release):
        with pytest.raises(zkfence.ClientClosed):
            call()
    with pytest.raises(zkfence.ClientClosed):
        lock.token
    lock.close()  # a no-op
    assert "closed" in repr(lock)


def test_repr_and_json_friendly(client, path):
    with client.lock(path) as token:
        lock = client.lock(path)
        assert repr(lock).endswith("unlocked>")
    assert "connected" in repr(client)
    json.dumps({"token": token})  # a plain int


def test_dropped_objects_are_closed_in_the_background(client, zk_hosts, path):
    """A Client and Lock nobody refers to any more are collected and closed
    by the package's reaper thread: the holding is released, the session
    closed, no node left behind."""
    import gc
    import weakref

    other = zkfence.Client(zk_hosts, session_timeout=SESSION)
    lock = other.lock(path)
    token = lock.acquire()
    assert [c.token for c in client.contenders(path)] == [token]
    refs = weakref.ref(other), weakref.ref(lock)
    del other, lock
    gc.collect()
    assert [r() for r in refs] == [None, None]
    assert wait_until(lambda: client.contenders(path) == [])
