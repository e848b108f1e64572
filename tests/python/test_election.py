"""zkfence.Election: one leader, tokens from leader to leader, stepping
down (and rejoining), giving up, Ctrl-C, participants, and a session
expiry reported as leadership lost."""
import queue

import pytest

import zkfence
from conftest import (SESSION, SOON, HolderThread, expire_session, expiry,
                      interrupt_a_waiting_child, wait_until)

ES = zkfence.ElectionState


@pytest.fixture
def other(zk_hosts):
    """A second session: another participant."""
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as c:
        yield c


def test_one_leader_then_the_next(client, other, path):
    a = client.election(path, id="host-a")
    b = other.election(path, id="host-b")
    assert a.state == ES.IDLE and not a.leader and a.id == "host-a"
    ta = a.lead()
    assert a.leader and a.state == ES.LEADER and a.token == ta
    assert a.node.startswith("candidate-")
    with pytest.raises(zkfence.LockBusy):
        b.lead(timeout=0)
    with pytest.raises(zkfence.LockTimeout):
        b.lead(timeout=0.3)
    follower = HolderThread(b)
    assert wait_until(lambda: len(a.participants()) == 2)
    got = a.participants()
    assert [(p.id, p.owner, p.token) for p in got] == [
        ("host-a", client.session_id, ta), ("host-b", other.session_id, got[1].token)]
    assert client.participants(path) == got
    assert b.state == ES.FOLLOWER and not follower.acquired.is_set()
    assert a.step_down() is True
    assert a.state == ES.IDLE
    with pytest.raises(zkfence.NotHeld):
        a.token
    assert follower.acquired.wait(SOON) and follower.error is None
    assert follower.token > ta  # every later leader's token is greater
    assert [p.id for p in a.participants()] == ["host-b"]
    follower.finish()
    assert wait_until(lambda: a.participants() == [])  # b's delete, on its session


def test_with_leads_for_the_block(client, path):
    e = client.election(path, timeout=SOON)
    tokens = []
    for _ in range(3):
        with e as token:
            assert e.leader
            tokens.append(token)
        assert e.state == ES.IDLE
    assert tokens == sorted(set(tokens)), tokens
    with e:
        with pytest.raises(zkfence.DepthExceeded):
            e.lead()  # already leader


def test_step_down_and_rejoin(client, other, path):
    events = queue.Queue()
    a = client.election(path, on_event=lambda e, ev: events.put(ev))
    b = other.election(path)
    ta = a.lead()
    waiting = HolderThread(b)
    assert wait_until(lambda: len(a.participants()) == 2)
    assert a.step_down(rejoin=True) is True
    assert events.get(timeout=SOON) == zkfence.ElectionEvent(ES.FOLLOWER, 0)
    assert waiting.acquired.wait(SOON) and waiting.token > ta
    assert a.state == ES.FOLLOWER
    assert [p.owner for p in a.participants()] == [other.session_id, client.session_id]
    waiting.finish()  # b steps down: a leads again, with a new token
    ev = events.get(timeout=SOON)
    assert ev.state == ES.LEADER and ev.token > waiting.token, ev
    assert a.leader and a.token == ev.token and not a.lost.is_set()
    assert a.step_down() is True
    assert a.participants() == []


def test_cancel_a_waiting_participant(client, other, path):
    a = client.election(path)
    a.lead()
    b = other.election(path)
    assert b.cancel() is False
    waiting = HolderThread(b)
    assert wait_until(lambda: b.state == ES.FOLLOWER)
    with pytest.raises(zkfence.InProgress):
        b.step_down()  # a wait is stopped by cancel
    assert b.cancel() is True
    assert waiting.acquired.wait(SOON)
    assert isinstance(waiting.error, zkfence.Cancelled), waiting.error
    waiting.finish()
    assert b.state == ES.IDLE
    assert [p.owner for p in a.participants()] == [client.session_id]  # b has left
    a.step_down()


def test_session_expiry_loses_the_leadership(client, path):
    seen = queue.Queue()
    e = client.election(path, on_event=lambda el, ev: seen.put((el, ev)))
    token = e.lead()
    expire_session(client)
    assert e.lost.wait(expiry(SESSION)), "no LOST within the deadline"
    evs = []
    while not evs or evs[-1].state != ES.LOST:
        el, ev = seen.get(timeout=SOON)
        assert el is e
        evs.append(ev)
    assert evs[-1] == zkfence.ElectionEvent(ES.LOST, token)
    assert isinstance(evs[-1].state, ES)
    assert {ev.state for ev in evs[:-1]} <= {ES.SUSPENDED, ES.LEADER}, evs
    assert e.state == ES.LOST and not e.leader
    with pytest.raises(zkfence.LockLost):
        e.token
    with pytest.raises(zkfence.LockLost):
        e.step_down()  # says so, and resets the participant
    assert e.state == ES.IDLE
    assert client.wait_for_state(zkfence.ClientState.CONNECTED, timeout=expiry(SESSION))
    assert e.lead(timeout=SOON) > token and not e.lost.is_set()
    e.step_down()


def test_keyboard_interrupt_leaves_the_election(children, client, path):
    e = client.election(path)
    with e:
        interrupt_a_waiting_child(children, path, "lead", e.participants, "IDLE")


def test_bad_arguments(client, path):
    with pytest.raises(zkfence.InvalidArgument) as ex:
        client.election(path, id="x" * 1025)
    assert "1024 bytes" in str(ex.value)
    with pytest.raises(zkfence.InvalidArgument):
        client.election("relative")
    with pytest.raises(TypeError):
        client.election(path, id=b"bytes")
    e = client.election(path)
    with pytest.raises(zkfence.NotHeld):
        e.step_down()
    e.close()
    with pytest.raises(zkfence.ClientClosed):
        e.lead()
