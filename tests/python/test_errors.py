"""Every libzkfence return code has its exception class, under the library's
own name and text, and messages say what the call was about."""
import re

import pytest

import zkfence
from zkfence import errors
from zkfence._ffi import ffi, lib


def library_codes():
    """Every code zkf_err_name knows: from -1 down to the first it calls
    ZKF_UNKNOWN (the list is dense, ZKF_ERRNO_MAP)."""
    codes = []
    code = -1
    while ffi.string(lib.zkf_err_name(code)).decode() != "ZKF_UNKNOWN":
        codes.append(code)
        code -= 1
    return codes


def test_every_code_has_its_class():
    codes = library_codes()
    assert len(codes) >= 18  # the list as of 0.1.0, at least
    assert sorted(errors.BY_CODE) == sorted(codes), "a code without a class, or a class too many"
    for code in codes:
        cls = errors.BY_CODE[code]
        assert issubclass(cls, zkfence.ZkfenceError)
        assert cls.code == code
        assert cls.name == ffi.string(lib.zkf_err_name(code)).decode()
        assert getattr(zkfence, cls.__name__) is cls, "exported from the package"
        e = errors.error(code, "doing X")
        assert type(e) is cls and e.code == code and e.name == cls.name
        assert str(e) == "doing X: " + ffi.string(lib.zkf_strerror(code)).decode()


def test_the_groups_a_caller_catches():
    for cls in (zkfence.LockTimeout, zkfence.LockBusy, zkfence.Cancelled):
        assert issubclass(cls, zkfence.NotAcquired)
    for cls in (zkfence.ConnectionLoss, zkfence.SessionExpired, zkfence.ConnectFailed):
        assert issubclass(cls, zkfence.SessionError)
    assert issubclass(zkfence.LockTimeout, TimeoutError)
    assert issubclass(zkfence.InvalidArgument, ValueError)
    assert issubclass(zkfence.OutOfMemory, MemoryError)
    assert issubclass(zkfence.WouldDeadlock, RuntimeError)
    assert not issubclass(zkfence.LockLost, zkfence.NotAcquired)


def test_message_names_zookeeper_code_and_hint():
    e = errors.error(zkfence.ZooKeeperError.code, "acquiring lock /a", zk_error=-101,
                     hint="does the chroot /x exist? (it must)")
    assert isinstance(e, zkfence.ZooKeeperError) and e.zk_error == -101
    assert str(e) == ("acquiring lock /a: ZooKeeper error (ZNONODE, ZooKeeper code -101). "
                      "does the chroot /x exist? (it must)")
    unknown = errors.error(-9999, "x")
    assert type(unknown) is zkfence.ZkfenceError and unknown.code == -9999
    assert unknown.name == "ZKF_UNKNOWN"


def test_check_passes_success_through():
    assert errors.check(0) == 0
    assert errors.check(3) == 3
    with pytest.raises(zkfence.LockBusy):
        errors.check(zkfence.LockBusy.code)


def test_connect_failure_names_hosts_and_deadline():
    # A port nobody listens on (bound here, never listened to).
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        hosts = "127.0.0.1:%d" % s.getsockname()[1]
        with pytest.raises(zkfence.ConnectFailed) as e:
            zkfence.Client(hosts, connect_timeout=0.5)
    msg = str(e.value)
    assert hosts in msg and re.search(r"within 0\.5 s", msg), msg
    assert e.value.name == "ZKF_ECONNECT"


def test_bad_client_options():
    for kw in ({"session_timeout": 0}, {"connect_timeout": -1}, {"session_timeout": "10"},
               {"connect_timeout": True}):
        with pytest.raises(zkfence.InvalidArgument) as e:
            zkfence.Client("127.0.0.1:1", **kw)
        assert list(kw)[0] in str(e.value)
    with pytest.raises(zkfence.InvalidArgument) as e:
        zkfence.Client("127.0.0.1:1", chroot="relative")
    assert e.value.code == -1
    with pytest.raises(zkfence.InvalidArgument):
        zkfence.Client("127.0.0.1:1", on_state="not callable")


def test_missing_chroot_says_so(zk_hosts, path):
    with zkfence.Client(zk_hosts, chroot="/zkfence-py-no-such-chroot", session_timeout=20) as zk:
        lock = zk.lock(path)
        with pytest.raises(zkfence.ZooKeeperError) as e:
            lock.acquire(timeout=30)
    assert e.value.zk_error == -101
    assert "ZNONODE" in str(e.value) and "chroot /zkfence-py-no-such-chroot" in str(e.value)
