#!/usr/bin/env python3
"""A fake webhook receiver for the notification tests: Slack and JSON events.

Listens on 127.0.0.1 at a port the OS chooses, printed as "PORT <n>" on the
first line of standard output, and serves two kinds of webhook:

Slack incoming webhooks (format slack), as Slack documents them, strictly:
  - POST only (else 405 "invalid_method");
  - the path /services/T.../B.../<secret>: T and B ids of upper-case letters
    and digits, the secret of letters and digits. A path of another shape,
    or a team and channel this server does not know, is 404 "no_service";
    a known team and channel with another secret is 403 "invalid_token";
  - Content-Type application/json, a UTF-8 JSON object (else 400
    "invalid_payload"), with a non-empty string `text` or a non-empty list
    `blocks` (else 400 "no_text");
  - `text` escaped as Slack's mrkdwn asks: '&' only as &amp; &lt; &gt;, '<'
    only to open a <...> link or mention, '>' only to close one (else 400
    "invalid_payload": Slack itself shows such text wrongly rather than
    refusing it, which a test would not see);
  - at most one message per second per webhook: a sooner one is 429
    "rate_limited" with Retry-After: 1;
  - answers are plain text: 200 "ok", or the error's name.
The webhooks that exist are given with --slack PATH (repeatable).

JSON events (format json, docs/webhooks.md), at POST --json-path (default
/hooks/flotilla): with --token, "Authorization: Bearer <token>" (else 401);
Content-Type application/json; the body exactly the documented schema,
version 1 (else 400 with {"error": why}). Answers 204.

For the tests:
  GET  /_messages  what was accepted, in order, as a JSON list of
                   {"path", "kind" ("slack" or "json"), "body" (parsed)}
  GET  /_stats     {"requests": n, "accepted": n, "rejected": n, "faults": n, "rate_limited": n}
  POST /_faults    a JSON list of faults for the next webhook requests, in
                   order: "500", "429" (with Retry-After: 1), "drop" (the
                   connection is closed without an answer), "404", "410"
                   ("channel_is_archived")
  POST /_reset     forget messages, counters, rate limits and pending faults
Only python3's standard library is used.
"""

import argparse
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLACK_PATH = re.compile(r"^/services/(T[A-Z0-9]+)/(B[A-Z0-9]+)/([A-Za-z0-9]+)$")
FAULTS = ("500", "429", "drop", "404", "410")
RATE_S = 1.0  # Slack: one message per second per webhook
EVENTS = {"wave.started", "wave.succeeded", "wave.failed", "wave.halted", "wave.rolled_back",
          "wave.waiting", "wave.superseded"}
STATES = {"pending", "success", "failure", "error"}
SCHEMA = ("version", "event", "commit", "wave", "state", "description", "context", "target_url", "time")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Hooks:
    """What the server remembers; every access holds lock."""

    def __init__(self, args):
        self.slack = {}  # (team, channel) -> secret
        for path in args.slack or []:
            m = SLACK_PATH.match(path)
            if not m:
                sys.exit("fake_webhook: --slack %s is not /services/T.../B.../secret" % path)
            self.slack[(m.group(1), m.group(2))] = m.group(3)
        self.json_path = args.json_path
        self.token = args.token
        self.lock = threading.Lock()
        self.faults = []
        self.reset()

    def reset(self):
        self.messages = []
        self.last = {}  # path -> time of the last accepted message
        self.requests = self.accepted = self.rejected = self.faulted = self.rate_limited = 0
        self.faults = []


def mrkdwn_problem(text):
    """Why text is not escaped as Slack asks, or None."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&":
            if not re.match(r"&(amp|lt|gt);", text[i:]):
                return "a bare '&' at %d" % i
        elif c == "<":
            end = text.find(">", i)
            inner = text[i + 1:end] if end > 0 else ""
            if end < 0 or not inner or "<" in inner or not re.match(r"^([a-z][a-z0-9+.-]*:|[@#!])", inner):
                return "a bare '<' at %d" % i
            i = end
        elif c == ">":
            return "a bare '>' at %d" % i
        i += 1
    return None


def schema_problem(doc):
    """Why doc is not a version 1 event, or None."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    if sorted(doc) != sorted(SCHEMA):
        return "keys %s, expected %s" % (sorted(doc), sorted(SCHEMA))
    if doc["version"] != 1 or isinstance(doc["version"], bool):
        return "version is not 1"
    if doc["event"] not in EVENTS:
        return "unknown event %r" % (doc["event"],)
    if not isinstance(doc["commit"], str) or not HEX40.match(doc["commit"]):
        return "commit is not 40 hex digits"
    if not isinstance(doc["wave"], str) or not doc["wave"]:
        return "wave is not a non-empty string"
    if doc["state"] not in STATES:
        return "unknown state %r" % (doc["state"],)
    if not isinstance(doc["description"], str):
        return "description is not a string"
    if doc["context"] != "flotilla/wave/" + doc["wave"]:
        return "context is not flotilla/wave/<wave>"
    u = doc["target_url"]
    if u is not None and not (isinstance(u, str) and re.match(r"^https?://[^/\s]+", u)):
        return "target_url is neither null nor an http(s) URL"
    if not isinstance(doc["time"], str) or not RFC3339.match(doc["time"]):
        return "time is not RFC 3339"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-webhook/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        if self.server.verbose:
            sys.stderr.write("fake_webhook: " + (fmt % args) + "\n")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, status, text, ctype="text/plain; charset=utf-8", extra=None):
        data = text.encode() if isinstance(text, str) else text
        self.send_response(status)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def answer_json(self, status, doc):
        self.answer(status, json.dumps(doc), "application/json")

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def test_endpoint(self, method, raw):
        h = self.server.hooks
        if method == "GET" and self.path == "/_messages":
            with h.lock:
                return self.answer_json(200, h.messages)
        if method == "GET" and self.path == "/_stats":
            with h.lock:
                return self.answer_json(200, {"requests": h.requests, "accepted": h.accepted,
                                              "rejected": h.rejected, "faults": h.faulted,
                                              "rate_limited": h.rate_limited})
        if method == "POST" and self.path == "/_faults":
            try:
                faults = json.loads(raw or b"[]")
                assert isinstance(faults, list) and all(x in FAULTS for x in faults)
            except (ValueError, AssertionError):
                return self.answer_json(400, {"error": "expected a list of %s" % ", ".join(FAULTS)})
            with h.lock:
                h.faults.extend(faults)
            return self.answer_json(200, {"faults": len(h.faults)})
        if method == "POST" and self.path == "/_reset":
            with h.lock:
                h.reset()
            return self.answer_json(200, {})
        return self.answer_json(404, {"error": "no such test endpoint"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        raw = self.body()
        if self.path.startswith("/_"):
            return self.test_endpoint(method, raw)
        h = self.server.hooks
        with h.lock:
            h.requests += 1
            fault = h.faults.pop(0) if h.faults else None
            h.faulted += fault is not None
        if fault == "drop":
            return self.drop()
        if fault == "500":
            return self.answer(500, "internal_error")
        if fault == "429":
            return self.answer(429, "rate_limited", extra={"Retry-After": "1"})
        if fault == "404":
            return self.answer(404, "no_service")
        if fault == "410":
            return self.answer(410, "channel_is_archived")
        if self.path == h.json_path:
            status, doc = self.json_event(method, raw)
            self.count(status)
            return self.answer(status, b"") if status == 204 else self.answer_json(status, doc)
        status, text, extra = self.slack(method, raw)
        self.count(status)
        self.answer(status, text, extra=extra)

    def count(self, status):
        h = self.server.hooks
        with h.lock:
            if status < 300:
                h.accepted += 1
            else:
                h.rejected += 1

    def json_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() == "application/json"

    def slack(self, method, raw):
        """Slack's answer: (status, text, extra headers)."""
        h = self.server.hooks
        m = SLACK_PATH.match(self.path)
        if not m or (m.group(1), m.group(2)) not in h.slack:
            return 404, "no_service", None
        if method != "POST":
            return 405, "invalid_method", None
        if h.slack[(m.group(1), m.group(2))] != m.group(3):
            return 403, "invalid_token", None
        if not self.json_type():
            return 400, "invalid_payload", None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, "invalid_payload", None
        if not isinstance(doc, dict):
            return 400, "invalid_payload", None
        text, blocks = doc.get("text"), doc.get("blocks")
        if text is not None and not isinstance(text, str):
            return 400, "invalid_payload", None
        if not text and not (isinstance(blocks, list) and blocks):
            return 400, "no_text", None
        if text and mrkdwn_problem(text):
            return 400, "invalid_payload", None
        with h.lock:
            now = time.monotonic()
            last = h.last.get(self.path)
            if last is not None and now - last < RATE_S:
                h.rate_limited += 1
                return 429, "rate_limited", {"Retry-After": "1"}
            h.last[self.path] = now
            h.messages.append({"path": self.path, "kind": "slack", "body": doc})
        return 200, "ok", None

    def json_event(self, method, raw):
        h = self.server.hooks
        if method != "POST":
            return 405, {"error": "method not allowed"}
        if h.token is not None and self.headers.get("Authorization") != "Bearer " + h.token:
            return 401, {"error": "unauthorized"}
        if not self.json_type():
            return 415, {"error": "expected application/json"}
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, {"error": "not JSON"}
        why = schema_problem(doc)
        if why:
            return 400, {"error": why}
        with h.lock:
            h.messages.append({"path": self.path, "kind": "json", "body": doc})
        return 204, None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slack", action="append", help="a Slack webhook path that exists (repeatable)")
    p.add_argument("--json-path", default="/hooks/flotilla", help="where JSON events are posted")
    p.add_argument("--token", help="the bearer token JSON events must carry (none if omitted)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.hooks = Hooks(args)
    server.verbose = args.verbose
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
