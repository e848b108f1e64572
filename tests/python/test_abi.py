"""The cffi declarations of zkfence/_ffi.py against include/zkfence/zkfence.h.

ABI mode checks nothing when the package is built, so this does: a C file
that includes the header and then repeats _ffi.FUNCTIONS (a prototype that
differs from the header's is a compile error, const included), and prints
the size and offset of every field of every struct and the value of every
enum constant that _ffi.TYPES declares, as the C compiler lays them out;
cffi's own layout must agree with each.
"""
import os
import shutil
import subprocess

import pytest

from conftest import SOURCE_DIR
from zkfence import _ffi

ffi = _ffi.ffi


def declared_types():
    """(structs, enums) that TYPES declares, as cffi types."""
    structs, enums = [], []
    for name in ("zkf_client_options_t", "zkf_lock_options_t", "zkf_contender_t",
                 "zkf_rwlock_options_t", "zkf_semaphore_options_t", "zkf_election_options_t",
                 "zkf_participant_t"):
        structs.append((name, ffi.typeof(name)))
    for name in ("zkf_client_state_t", "zkf_lock_state_t", "zkf_rwlock_mode_t",
                 "zkf_election_state_t"):
        enums.append((name, ffi.typeof(name)))
    return structs, enums


def c_program():
    structs, enums = declared_types()
    out = ["#include <stddef.h>", "#include <stdio.h>", "#include <zkfence/zkfence.h>",
           "/* _ffi.FUNCTIONS, which must match the header's prototypes */", _ffi.FUNCTIONS,
           "int main(void) {"]
    for name, t in structs:
        out.append('printf("sizeof %s %%zu\\n", sizeof(%s));' % (name, name))
        for field, _ in t.fields:
            out.append('printf("offsetof %s.%s %%zu\\n", offsetof(%s, %s));'
                       % (name, field, name, field))
    for _, t in enums:
        for const in t.relements:
            out.append('printf("enum %s %%d\\n", (int)%s);' % (const, const))
    out += ["return 0;", "}"]
    return "\n".join(out) + "\n"


def expected():
    structs, enums = declared_types()
    lines = []
    for name, t in structs:
        lines.append("sizeof %s %d" % (name, ffi.sizeof(t)))
        for field, f in t.fields:
            lines.append("offsetof %s.%s %d" % (name, field, f.offset))
    for _, t in enums:
        for const, value in t.relements.items():
            lines.append("enum %s %d" % (const, value))
    return lines


def test_declarations_match_the_header(tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc): scripts/setup installs build-essential")
    src = tmp_path / "abi.c"
    src.write_text(c_program())
    exe = tmp_path / "abi"
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(SOURCE_DIR, "include"),
                        str(src), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, "zkfence/_ffi.py disagrees with zkfence.h:\n" + r.stderr
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    assert got[:-1] == expected()


def test_every_public_function_is_declared_or_left_out_on_purpose():
    """A function added to the header shows up here: bind it, or say why not."""
    header = open(os.path.join(SOURCE_DIR, "include", "zkfence", "zkfence.h")).read()
    import re

    public = set(re.findall(r"ZKF_API[^;(]*?\b(zkf_\w+)\s*\(", header))
    declared = set(re.findall(r"\b(zkf_\w+)\s*\(", _ffi.FUNCTIONS))
    # The blocking acquires: not interruptible, see _ffi.py.
    assert _ffi.LEFT_OUT == {"zkf_lock_acquire", "zkf_rwlock_acquire", "zkf_semaphore_acquire",
                             "zkf_election_lead"}
    assert public - declared == _ffi.LEFT_OUT
    assert declared <= public


def test_python_enums_are_the_headers():
    """The IntEnums the package returns carry the header's values."""
    import zkfence
    from zkfence._ffi import lib

    for enum_type, prefix in ((zkfence.LockState, "ZKF_LOCK_"),
                              (zkfence.ElectionState, "ZKF_ELECTION_"),
                              (zkfence.ClientState, "ZKF_CLIENT_")):
        c_names = {n[len(prefix):]: getattr(lib, n) for n in dir(lib) if n.startswith(prefix)}
        assert {m.name: m.value for m in enum_type} == c_names, enum_type
    for st in zkfence.ElectionState:
        assert ffi.string(lib.zkf_election_state_name(st)).decode().upper() == st.name
