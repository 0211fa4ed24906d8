#!/usr/bin/env python3
# A Zipkin-format test collector for tests/lab/test_tracing.sh: POST /api/v2/spans takes a JSON
# list of Zipkin v2 spans, checks each has the fields a Zipkin server requires (traceId, id,
# timestamp, duration) and appends it, one JSON object per line, to FILE; 202 as Zipkin answers.
# Anything malformed is answered 400 and logged to stderr, so a bad encoding fails the test.
# With a fourth argument `sink` (tests/bench/telemetry.sh) it reads each body and answers 202
# without parsing or storing it: a real collector runs on another node, and parsing every span
# in Python on the measured machine cost more CPU than skiffd spent making them.
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDR, PORT, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SINK = sys.argv[4:5] == ["sink"]
HEX = set("0123456789abcdef")


def valid(s):
    return (isinstance(s, dict) and len(s.get("traceId", "")) in (16, 32) and
            len(s.get("id", "")) == 16 and set(s["traceId"] + s["id"]) <= HEX and
            isinstance(s.get("timestamp"), int) and isinstance(s.get("duration"), int) and
            s.get("kind") in ("CLIENT", "SERVER"))


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if SINK:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            spans = json.loads(body)
            ok = self.path == "/api/v2/spans" and isinstance(spans, list) and all(map(valid, spans))
        except ValueError:
            ok = False
        if not ok:
            sys.stderr.write("rejected %s: %r\n" % (self.path, body[:300]))
            self.send_response(400)
            self.end_headers()
            return
        with open(OUT, "a") as f:
            for s in spans:
                f.write(json.dumps(s) + "\n")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


ThreadingHTTPServer((ADDR, PORT), H).serve_forever()
