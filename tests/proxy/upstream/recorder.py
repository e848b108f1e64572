"""A stand-in upstream store for upstream_test.sh that records what the
proxy sends: every PUT's headers (one JSON object per line in LOG) and body
(LOG.body, the last one), answered 200 with the ETag given on the command
line, or with none (as a store that names none) for a key ending in
"noetag". Any other request
(the proxy's ListBuckets and HeadBucket) gets an empty 200 bucket list. It
checks nothing: the test reads what it recorded.

A PUT of a key starting "hold-" is held until two such PUTs are in flight
at once (or 20 s have passed), and the most ever in flight is written to
LOG.peak: how the test sees whether the proxy sends writes of one lock
upstream together.

Usage: recorder.py PORT LOG ETAG
"""
import http.server
import json
import sys
import threading

PORT, LOG, ETAG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
HOLD = threading.Condition()
held = {"now": 0, "peak": 0}
BUCKETS = (b'<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult>'
           b'<Buckets></Buckets></ListAllMyBucketsResult>')


class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(LOG, "a") as f:
            f.write(json.dumps({k.lower(): v for k, v in self.headers.items()}) + "\n")
        with open(LOG + ".body", "wb") as f:
            f.write(body)
        if self.path.rsplit("/", 1)[-1].startswith("hold-"):
            self.hold()
        self.send_response(200)
        if not self.path.endswith("noetag"):
            self.send_header("ETag", '"%s"' % ETAG)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def hold(self):
        with HOLD:
            held["now"] += 1
            held["peak"] = max(held["peak"], held["now"])
            with open(LOG + ".peak", "w") as f:
                f.write("%d\n" % held["peak"])
            HOLD.notify_all()
            HOLD.wait_for(lambda: held["peak"] >= 2, timeout=20)
        with HOLD:
            held["now"] -= 1

    def answer_list(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(BUCKETS)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(BUCKETS)

    do_GET = answer_list
    do_HEAD = answer_list

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Recorder).serve_forever()
