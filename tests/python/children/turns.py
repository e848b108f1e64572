"""turns.py HOSTS PATH FILE N: takes the lock N times; each time, under the
lock, appends its token to FILE (so the file's order is the holdings')."""
import os
import sys

import zkfence

hosts, path, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with zkfence.Client(hosts, session_timeout=20) as zk:
    lock = zk.lock(path, timeout=120)
    for _ in range(n):
        with lock as token:
            with open(out, "a") as f:
                f.write("%d\n" % token)
                f.flush()
                os.fsync(f.fileno())
