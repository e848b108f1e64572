"""python/README.md, and the Python worker of README.md, run as written.

Every ```python and ```sh block of python/README.md, and every ```python
block of README.md (its ```sh blocks are tests/docs's), is preceded by a
marker, as tests/docs/docs_test.sh asks of the READMEs:

    <!-- docs-test: run -->                 run here, must exit 0
    <!-- docs-test: illustrative: WHY -->   shown, not run

The runnable ones run in order in a scratch directory holding a copy of
python/ (the pip install block installs it from there), with this
interpreter first on PATH, a scratch HOME, the test ZooKeeper as
$ZKFENCE_ZOOKEEPER, and a zkfence-proxy started here (authentication on),
whose key is in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the one thing
changed in the text is the proxy's documented address, 127.0.0.1:9000,
which becomes this proxy's. A worker block (one that fences a client) runs
in three processes at once; afterwards the seat holds every booking, in
token order, and the proxy's mark is the last one. Blocks are read with
tests/docs/blocks.py, as docs_test.sh reads them.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import SOON, SOURCE_DIR, Proxy

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "docs"))
from blocks import blocks as md_blocks  # noqa: E402 (tests/docs/blocks.py)

PY_README = os.path.join(SOURCE_DIR, "python", "README.md")
MAIN_README = os.path.join(SOURCE_DIR, "README.md")
WORKERS = 3


def blocks(path, langs):
    """(lang, body, 'file:line', marker or None) of each block in langs."""
    name = os.path.relpath(path, SOURCE_DIR)
    return [(lang, body, "%s:%d" % (name, line), marker)
            for lang, body, line, marker in md_blocks(path) if lang in langs]


def all_blocks():
    return blocks(PY_README, ("python", "sh")) + blocks(MAIN_README, ("python",))


def test_every_block_is_marked():
    found = all_blocks()
    assert any(lang == "python" and "README.md:" in where and not where.startswith("python/")
               for lang, _, where, _ in found), "README.md shows no Python worker"
    unmarked = [where for _, _, where, marker in found if marker in (None, "compile")]
    assert unmarked == [], "precede each with <!-- docs-test: run --> or illustrative: WHY"


def test_links_point_into_the_repository():
    text = open(PY_README).read()
    for link in re.findall(r"\]\(([^)]*)\)", text):
        if re.match(r"^(https?|mailto):", link):
            continue
        target = os.path.realpath(os.path.join(os.path.dirname(PY_README), link.split("#")[0]))
        assert target.startswith(os.path.realpath(SOURCE_DIR) + os.sep), link
        assert os.path.exists(target), link


@pytest.fixture
def docs_proxy(tmp_path):
    p = Proxy(tmp_path / "proxy")
    yield p
    p.stop()


def test_examples_run_as_written(zk_hosts, docs_proxy, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(os.path.join(SOURCE_DIR, "python"), work / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    (tmp_path / "home").mkdir()
    env = dict(os.environ)
    env.update({
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "ZKFENCE_ZOOKEEPER": zk_hosts,
        "AWS_ACCESS_KEY_ID": docs_proxy.key,
        "AWS_SECRET_ACCESS_KEY": docs_proxy.secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    address = "127.0.0.1:%d" % docs_proxy.port
    workers = 0
    for lang, body, where, marker in all_blocks():
        if marker != "run":
            continue
        body = body.replace("127.0.0.1:9000", address)
        if lang == "sh":
            # The package as the block installs it, not the sources.
            sh_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
            procs = [subprocess.Popen(["bash", "-eo", "pipefail", "-c", body], cwd=work,
                                      env=sh_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)]
        else:
            n = WORKERS if "zkfence.boto3.fence(" in body else 1
            workers += n if n > 1 else 0
            procs = [subprocess.Popen([sys.executable, "-c", body], cwd=work, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for _ in range(n)]
        for p in procs:
            out, _ = p.communicate(timeout=SOON * 4)
            assert p.returncode == 0, "%s failed (exit %d):\n%s\n--- the block, as run:\n%s" % (
                where, p.returncode, out, body)
            if lang == "sh" and "import zkfence" in body:
                assert "zkfence 0.1.0 on" in out, out
    assert workers >= WORKERS, "no worker block ran"

    s3 = docs_proxy.s3()
    seat = json.load(s3.get_object(Bucket="seats", Key="seat-12")["Body"])
    tokens = [b["token"] for b in seat["bookings"]]
    assert len(tokens) == workers, seat  # no booking lost: each read was fenced, under the lock
    assert tokens == sorted(set(tokens)), tokens
    assert len({b["pid"] for b in seat["bookings"]}) == workers
    assert docs_proxy.marks()["/locks/seat-12"] == tokens[-1]
