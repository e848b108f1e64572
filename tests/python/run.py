"""ctest's entry for the Python binding: runs tests/python with pytest under
the interpreter that runs this (CMake picks Debian's /usr/bin/python3).

Exits 77 (ctest: skipped) with the Debian package to install when pytest,
cffi or boto3 is missing, and only then; otherwise pytest's exit code.
"""
import importlib
import os
import sys

# Module -> the Debian package that provides it (scripts/setup installs all).
NEEDED = (("pytest", "python3-pytest"), ("cffi", "python3-cffi"), ("boto3", "python3-boto3"))

missing = []
for module, package in NEEDED:
    try:
        importlib.import_module(module)
    except ImportError as e:
        missing.append("%s (import %s: %s)" % (package, module, e))
if missing:
    print("python suite skipped: %s missing for %s; run scripts/setup"
          % (", ".join(missing), sys.executable))
    sys.exit(77)

import pytest  # noqa: E402 (checked above)

here = os.path.dirname(os.path.abspath(__file__))
# No cache or bytecode written into the source tree; -rs lists skips with
# their reasons, -v names every test in ctest's log.
sys.exit(pytest.main(["-p", "no:cacheprovider", "-v", "-rs", here] + sys.argv[1:]))
