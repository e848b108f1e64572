"""Shared fixtures of the Python binding's tests (tests/python).

They run with Debian's interpreter and packages (/usr/bin/python3,
python3-pytest, python3-cffi, python3-boto3), against the ZooKeeper named
by $ZKFENCE_TEST_ZK (scripts/test starts it) and, for the boto3 helper, a
zkfence-proxy each module starts and stops by its PID. ctest sets
PYTHONPATH to the package's sources (python/) and ZKFENCE_LIBRARY to the
libzkfence of the build under test.

Time on a busy machine, as in tests/support/zkf_test.h: ordinary clients
have sessions of SESSION seconds, far longer than any stall; what comes
within a round trip is waited for up to SOON; what a session timeout T
governs, up to expiry(T). Waiting is always on a condition with a deadline
(wait_until polls every 5 ms: a polling interval, not a wait).
"""
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest

import zkfence

SESSION = 20.0
SOON = 30.0
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("ZKFENCE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BIN_DIR = os.environ.get("ZKFENCE_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))


def expiry(session_timeout):
    """Deadline for what a session timeout governs (the server's expiry, the
    client's own verdict): three timeouts and a round trip's patience."""
    return 3 * session_timeout + SOON


def wait_until(cond, timeout=SOON):
    """Polls cond() until it is true or timeout seconds pass; returns its
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(0.005)  # the polling interval


@pytest.fixture(scope="session")
def zk_hosts():
    hosts = os.environ.get("ZKFENCE_TEST_ZK")
    if not hosts:
        pytest.fail("ZKFENCE_TEST_ZK is not set: run the suite through scripts/test")
    return hosts


@pytest.fixture
def client(zk_hosts):
    with zkfence.Client(zk_hosts, session_timeout=SESSION) as c:
        yield c


@pytest.fixture
def path(request):
    """A lock path no other test uses."""
    return "/zkfence-py/%s-%s" % (request.node.name.replace("[", "-").rstrip("]"),
                                  uuid.uuid4().hex[:8])


def child_env():
    """The environment for a child Python process: the same package and
    library as this one, and no bytecode written into the sources."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(zkfence.__file__)))
    env["PYTHONPATH"] = pkg + os.pathsep + HERE
    env["ZKFENCE_LIBRARY"] = zkfence.LIBRARY
    return env


class Child:
    """A Python child process running a script of tests/python/children, with
    line-based JSON on its stdout and commands on its stdin. Stopped by its
    PID (SIGKILL if still running at the end)."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "children", script)] + [str(a) for a in args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_env(), text=True)
        self.lines = []

    def read(self, timeout=SOON):
        """The next JSON line of the child's stdout, within timeout."""
        out = self.proc.stdout
        ready, _, _ = select.select([out], [], [], timeout)
        if not ready:
            raise AssertionError("child %s said nothing within %.0f s" % (self.proc.args, timeout))
        line = out.readline()
        if not line:
            self.proc.wait(timeout=SOON)
            raise AssertionError("child ended (exit %s): %s" % (self.proc.returncode,
                                                                self.proc.stderr.read()))
        self.lines.append(line)
        return json.loads(line)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def finish(self, timeout=SOON):
        """Waits for the exit; returns (exit code, rest of stdout, stderr)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def children():
    made = []

    def start(script, *args):
        c = Child(script, *args)
        made.append(c)
        return c

    yield start
    for c in made:
        c.kill()


# -- session faults -----------------------------------------------------------
def expire_session(client):
    """Ends the client's session from the outside, as the C suites do
    (zt_expire_session): a second ZooKeeper handle joins the same session
    id and closes it; the client then sees it expire."""
    from _zookeeper import expire

    expire(client, client.hosts)


class Relay:
    """A TCP relay between a client and ZooKeeper that can cut the link:
    cut() closes every connection and refuses new ones (the client sees the
    connection lost, its session lives on in the server), restore() lets
    them through again."""

    def __init__(self, upstream):
        host, port = upstream.split(",")[0].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.down = False
        self.conns = []
        self.mu = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.mu:
                if self.down or self.closed:
                    c.close()
                    continue
                try:
                    u = socket.create_connection(self.upstream, timeout=SOON)
                except OSError:
                    c.close()
                    continue
                u.settimeout(None)
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        with self.mu:
            self.down = True
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.conns = []

    def restore(self):
        with self.mu:
            self.down = False

    def close(self):
        self.cut()
        self.closed = True
        self.sock.close()


@pytest.fixture
def relay(zk_hosts):
    r = Relay(zk_hosts)
    yield r
    r.close()


# -- zkfence-proxy --------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """A zkfence-proxy on a free loopback port with its own data directory,
    stopped by its PID. Authentication is on, as by default: a fresh key
    with admin rights (``key``, ``secret``) in a credentials file only this
    user may read, which every client of the tests signs with. Buckets need
    fencing (the default policy) except those named in ``open_buckets``."""

    def __init__(self, workdir, open_buckets=()):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.key = "AKPY" + os.urandom(6).hex().upper()
        self.secret = os.urandom(20).hex()
        creds = os.path.join(self.dir, "credentials")
        fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, ("key %s %s\ngrant %s * admin\n" % (self.key, self.secret, self.key)).encode())
        os.close(fd)
        conf = os.path.join(self.dir, "proxy.conf")
        with open(conf, "w") as f:
            f.write("listen = 127.0.0.1:%d\ndata_dir = %s/data\n" % (self.port, self.dir))
            f.write("credentials = %s\n" % creds)
            for b in open_buckets:
                f.write("bucket.%s.fencing = optional\n" % b)
        self.log = os.path.join(self.dir, "proxy.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([os.path.join(BIN_DIR, "zkfence-proxy"), "--config", conf],
                                         stdout=log, stderr=log)
        if not wait_until(self._healthy, 60):
            self.stop()
            raise AssertionError("zkfence-proxy did not start:\n" + open(self.log).read())

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("zkfence-proxy exited %d:\n%s" % (self.proc.returncode,
                                                                  open(self.log).read()))
        try:
            with urllib.request.urlopen(self.url + "/_zkfence/health", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def marks(self):
        """{lock: mark} as the proxy keeps them (GET /_zkfence/marks, admin
        only: signed with the admin key by botocore's SigV4 signer)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        req = AWSRequest(method="GET", url=self.url + "/_zkfence/marks",
                         headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        SigV4Auth(Credentials(self.key, self.secret), "s3", "us-east-1").add_auth(req)
        get = urllib.request.Request(req.url, headers=dict(req.headers))
        with urllib.request.urlopen(get, timeout=SOON) as r:
            return {m["lock"]: int(m["mark"]) for m in json.load(r)["marks"]}

    def s3(self, **config):
        """A boto3 S3 client of this proxy, configured as a worker's would be:
        path-style addressing, no retries (a test sees each answer)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=self.key, aws_secret_access_key=self.secret,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                          **config))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=SOON)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    p = Proxy(tmp_path_factory.mktemp("proxy"), open_buckets=("open",))
    yield p
    p.stop()


class HolderThread:
    """Acquires a holding (a Lock, a read/write lock's side, a Lease, an
    Election) on a thread of its own, which keeps it until finish() and
    releases it there: a contender that waits in the background."""

    def __init__(self, holding, timeout=None):
        self.holding = holding
        self.timeout = timeout
        self.token = None
        self.error = None
        self.acquired = threading.Event()  # set once acquire returned or raised
        self._finish = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            self.token = self.holding.acquire(timeout=self.timeout)
        except zkfence.ZkfenceError as e:
            self.error = e
            return
        finally:
            self.acquired.set()
        self._finish.wait()
        self.holding.release()

    def finish(self):
        """Releases what it holds (if anything) and ends the thread."""
        self._finish.set()
        self.thread.join(SOON)
        assert not self.thread.is_alive(), "the holder thread did not end"


def interrupt_a_waiting_child(children, path, kind, queue_of, state):
    """Ctrl-C while a child process waits for ``kind`` (interrupted.py) on
    ``path``, which the test holds: the child's wait raises
    KeyboardInterrupt at once, leaving its object in ``state`` with no
    node, and the queue (``queue_of()``, a listing) is as before, while
    the child's session lives on (it waits for "exit")."""
    before = queue_of()
    kid = children("interrupted.py", os.environ["ZKFENCE_TEST_ZK"], path, kind)
    assert kid.read() == {"waiting": True}
    assert wait_until(lambda: len(queue_of()) == len(before) + 1)
    kid.signal(signal.SIGINT)
    got = kid.read()
    assert got == {"interrupted": True, "state": state, "node": None}, got
    assert wait_until(lambda: queue_of() == before)
    kid.send("exit")
    rc, _, err = kid.finish()
    assert rc == 0, err
