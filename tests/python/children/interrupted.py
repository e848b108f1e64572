"""interrupted.py HOSTS PATH: waits for the lock (held by the test) until
SIGINT; reports what the interrupted acquire left; exits on "exit"."""
import json
import sys

import zkfence

hosts, path = sys.argv[1], sys.argv[2]
with zkfence.Client(hosts, session_timeout=20) as zk:
    lock = zk.lock(path)
    print(json.dumps({"waiting": True}))
    try:
        lock.acquire()
        print(json.dumps({"interrupted": False}))
    except KeyboardInterrupt:
        print(json.dumps({"interrupted": True, "state": lock.state.name, "node": lock.node}))
    sys.stdin.readline()
