"""interrupted.py HOSTS PATH [KIND]: waits for the lock (held by the test)
until SIGINT; reports what the interrupted acquire left; exits on "exit".
KIND is what it waits for: "lock" (the default), "write" (a read/write
lock's write side), "lease" (a lease of a 1-lease semaphore) or "lead" (the
leadership of an election)."""
import json
import sys

import zkfence

hosts, path = sys.argv[1], sys.argv[2]
kind = sys.argv[3] if len(sys.argv) > 3 else "lock"
with zkfence.Client(hosts, session_timeout=20) as zk:
    lock = {
        "lock": lambda: zk.lock(path),
        "write": lambda: zk.rwlock(path).write_lock,
        "lease": lambda: zk.semaphore(path, 1).lease(),
        "lead": lambda: zk.election(path),
    }[kind]()
    print(json.dumps({"waiting": True}))
    try:
        lock.acquire()
        print(json.dumps({"interrupted": False}))
    except KeyboardInterrupt:
        print(json.dumps({"interrupted": True, "state": lock.state.name, "node": lock.node}))
    sys.stdin.readline()
