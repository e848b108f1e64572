"""holder.py HOSTS PATH SESSION_S: holds the lock with a short session and
says so; then (once the test has stopped it past its session and woken it)
waits for the LOST event and reports what the token and release say."""
import json
import sys

import zkfence

hosts, path, session = sys.argv[1], sys.argv[2], float(sys.argv[3])
events = []
with zkfence.Client(hosts, session_timeout=session) as zk:
    lock = zk.lock(path, on_event=lambda lk, ev: events.append(ev))
    token = lock.acquire(timeout=60)
    print(json.dumps({"held": True, "token": token, "session_timeout": zk.session_timeout}))
    # Stopped here by the test, then woken.
    lost = lock.lost.wait(3 * zk.session_timeout + 30)
    report = {"lost_event": [e.state.name, e.token] for e in events if e.state.name == "LOST"}
    report = {"lost_event": report.get("lost_event"), "lost": lost}
    for name, call in (("token_error", lambda: lock.token), ("release_error", lock.release)):
        try:
            call()
            report[name] = None
        except zkfence.ZkfenceError as e:
            report[name] = type(e).__name__
    print(json.dumps(report))
