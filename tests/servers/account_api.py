#!/usr/bin/env python3
"""A fake of the account API of the http driver (docs/drivers.md "## http").

python3 stdlib only (and, with --http2 alone, the h2 package: Debian's
python3-h2). It keeps accounts in memory and enforces the API's
documented rules strictly: methods, paths, bearer tokens, JSON bodies,
X-Flotilla-Fingerprint, If-Match / If-None-Match (412) and If-* required on
resource writes (428). It is an asyncio server (one thread, no thread per
connection) with Nagle off, so that at 100 clients and 20 ms of injected
latency it is not itself the bottleneck of bench/http_bench.sh.

It listens on 127.0.0.1 on a port the OS picks, prints "PORT <n>" as its
first line of standard output, and exits when standard input closes (so a
test that dies takes it along) or on SIGTERM. HTTP/1.1 with keep-alive; with
--http2, HTTP/2 too, over TLS, for clients that offer "h2" in ALPN. Both
protocols go through one request handler (serve()), so every rule, fault,
latency and counter below is the same on both.

Usage: account_api.py [--tls CERT KEY [--client-ca CA] [--http2]] [--tokens FILE]
                      [--latency-ms N]
  --tls           serve https with this certificate and key
  --client-ca     require a client certificate signed by CA
  --http2         offer HTTP/2 ("h2") before http/1.1 in ALPN; needs --tls and
                  a python3 that can import h2 (Debian: /usr/bin/python3 with
                  python3-h2); exits 2 when it cannot. Streams of one
                  connection are answered concurrently, each after the latency
  --tokens FILE   JSON {"<account>": "<token>", "*": "<token>"}: requests to
                  an account need "Authorization: Bearer <token>" ("*" for
                  accounts not listed); without it, no token is needed
  --latency-ms N  every account request waits N ms before it is answered

The account API, under /v1/accounts/<account> (see docs/drivers.md):
  GET    /identity                         {"account","tenant"} or 404
  PUT    /identity                         create: 201; same account: 200; another: 409
  GET    /regions                          {"regions": [...]} (404: no account)
  GET    /regions/<r>                      {"marker", "resources"} or 404, ETag
  GET    /regions/<r>/marker               {"marker": {...}} or 404
  PUT    /regions/<r>/marker               body: a marker
  GET    /regions/<r>/resources/<k>/<n>    {"kind","name","managed","spec"}, ETag
  PUT    /regions/<r>/resources/<k>/<n>    body: the spec; X-Flotilla-Fingerprint;
                                           If-Match: "<fp>" or If-None-Match: *
  DELETE /regions/<r>/resources/<k>/<n>    204 (If-Match optional); 404 when gone

The ETag of a resource is the X-Flotilla-Fingerprint it was last PUT with
(this fake cannot compute XXH3-128; a real server computes it from the spec).

Test hooks (not counted as requests):
  GET  /_state    {"accounts": ..., "requests": n, "by_method": {...},
                  "by_protocol": {"HTTP/1.1": n, "HTTP/2": n}: account requests
                  by the protocol they came over ("HTTP/1.0" if one did),
                  "connections": {"HTTP/1.1": n, "HTTP/2": n}: connections
                  opened, by the protocol ALPN chose (test hooks' included),
                  "peak_in_flight": most requests waiting out the latency at once,
                  "mean_in_flight": their mean (sampled every 10 ms while busy),
                  "busy_s": seconds from the first account request to the last,
                  "latency_overshoot_ms": how much later than the latency the
                  delayed requests were answered, on average (timer lag and
                  this server's own queue),
                  "faults": [...]}
  POST /_state    {"accounts": ...} replaces the accounts (seeding, hand edits)
  POST /_faults   {"status": 500|429|412|"reset", "count": n, "retry_after": s,
                   "method": "PUT", "path": "substring"}: the next n matching
                  account requests get that answer ("reset": the connection is
                  closed without one; over HTTP/2 the request's stream is reset
                  (RST_STREAM INTERNAL_ERROR), as closing the connection would
                  also fail the other requests multiplexed on it); faults queue up
  DELETE /_faults forgets every fault
  POST /_tokens   replaces the token map, like --tokens
  POST /_reset    forgets accounts, faults and counters
"""

import asyncio
import json
import os
import re
import selectors
import signal
import socket
import ssl
import stat
import sys
import time

ACCOUNTS = {}       # account -> {"identity": {...}, "regions": {region: REGION}}
# REGION: {"marker": {...} or None, "resources": {"kind/name": {"kind", "name",
# "managed", "spec", "etag"}} (dict order = order of first PUT), "version": n}
FAULTS = []         # {"status", "count", "retry_after", "method", "path"}
TOKENS = None       # None: no tokens needed; else account -> token ("*": the rest)
COUNTS = {"requests": 0, "by_method": {}, "by_protocol": {}, "connections": {}, "in_flight": 0,
          "peak_in_flight": 0, "samples": [], "overshoot_s": 0.0, "delayed": 0}
LATENCY = 0.0
h2 = None           # the h2 package, imported by main() only with --http2

IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
ACCOUNT_PATH = re.compile(r"^/v1/accounts/([^/]+)(/.*)?$")
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 411: "Length Required", 412: "Precondition Failed",
           413: "Payload Too Large", 431: "Request Header Fields Too Large", 415: "Unsupported Media Type",
           428: "Precondition Required", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}
MAX_BODY = 64 * 1024 * 1024


class Answer(Exception):
    """Raised by a handler to answer at once."""

    def __init__(self, status, error=None, headers=None):
        super().__init__(error)
        self.status = status
        self.body = {"error": error} if error else None
        self.headers = headers or {}


class Reset(Exception):
    """Close the connection without an answer."""


def valid_marker(m):
    return (isinstance(m, dict) and set(m) == {"revision", "tenant_fingerprint",
                                               "inputs_fingerprint", "resources"}
            and isinstance(m["revision"], str) and HEX40.match(m["revision"])
            and isinstance(m["tenant_fingerprint"], str) and HEX32.match(m["tenant_fingerprint"])
            and isinstance(m["inputs_fingerprint"], str) and HEX32.match(m["inputs_fingerprint"])
            and isinstance(m["resources"], int) and not isinstance(m["resources"], bool)
            and m["resources"] >= 0)


def json_body(req):
    ctype = req["headers"].get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise Answer(415, "expected Content-Type: application/json")
    try:
        return json.loads(req["body"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Answer(400, "body is not JSON: %s" % e)


def check_token(account, headers):
    if TOKENS is None:
        return
    want = TOKENS.get(account, TOKENS.get("*"))
    if want is None:
        return
    if headers.get("authorization") != "Bearer " + want:
        raise Answer(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


def take_fault(method, path):
    for f in FAULTS:
        if f.get("count", 1) <= 0:
            continue
        if f.get("method") and f["method"] != method:
            continue
        if f.get("path") and f["path"] not in path:
            continue
        f["count"] = f.get("count", 1) - 1
        return f
    return None


def region_of(acct, region, create=False):
    regions = acct["regions"]
    if region not in regions:
        if not create:
            return None
        regions[region] = {"marker": None, "resources": {}, "version": 0}
    return regions[region]


def region_holds_state(r):
    return r is not None and (r["marker"] is not None or len(r["resources"]) > 0)


def quoted(etag):
    return '"%s"' % etag


def handle_account(req, account, rest):
    method = req["method"]
    if not IDENT.match(account):
        raise Answer(400, "invalid account '%s'" % account)
    check_token(account, req["headers"])
    acct = ACCOUNTS.get(account)
    parts = rest.strip("/").split("/") if rest not in (None, "", "/") else []

    def need(allowed):
        if method not in allowed:
            raise Answer(405, "method %s not allowed here" % method, {"Allow": ", ".join(allowed)})

    def need_account():
        if acct is None:
            raise Answer(404, "no such account")
        return acct

    if parts == ["identity"]:
        need(["GET", "PUT"])
        if method == "GET":
            return 200, dict(need_account()["identity"]), {}
        body = json_body(req)
        if (not isinstance(body, dict) or set(body) != {"account", "tenant"}
                or not isinstance(body["account"], str) or not IDENT.match(body["account"])
                or not isinstance(body["tenant"], str) or not body["tenant"]):
            raise Answer(400, 'expected {"account": "<id>", "tenant": "<name>"}')
        if acct is None:
            ACCOUNTS[account] = {"identity": body, "regions": {}}
            return 201, dict(body), {}
        if acct["identity"]["account"] != body["account"]:
            raise Answer(409, "account reports id '%s', not '%s'"
                         % (acct["identity"]["account"], body["account"]))
        return 200, dict(acct["identity"]), {}

    if parts == ["regions"]:
        need(["GET"])
        regions = sorted(r for r, v in need_account()["regions"].items() if region_holds_state(v))
        return 200, {"regions": regions}, {}

    if len(parts) < 2 or parts[0] != "regions":
        raise Answer(404, "no such path")
    region = parts[1]
    if not IDENT.match(region):
        raise Answer(400, "invalid region '%s'" % region)

    if len(parts) == 2:
        need(["GET"])
        r = region_of(need_account(), region)
        if not region_holds_state(r):
            raise Answer(404, "region holds nothing")
        resources = [{"kind": v["kind"], "name": v["name"], "managed": v["managed"], "spec": v["spec"]}
                     for v in r["resources"].values()]
        return 200, {"marker": r["marker"], "resources": resources}, {"ETag": quoted("r%d" % r["version"])}

    if parts[2:] == ["marker"]:
        need(["GET", "PUT"])
        a = need_account()
        if method == "GET":
            r = region_of(a, region)
            if r is None or r["marker"] is None:
                raise Answer(404, "no marker")
            return 200, {"marker": r["marker"]}, {}
        body = json_body(req)
        if not valid_marker(body):
            raise Answer(400, "expected a marker {revision, tenant_fingerprint, inputs_fingerprint, resources}")
        r = region_of(a, region, create=True)
        r["marker"] = body
        r["version"] += 1
        return 200, {"marker": body}, {}

    if len(parts) == 5 and parts[2] == "resources":
        kind, name = parts[3], parts[4]
        if not IDENT.match(kind) or not IDENT.match(name):
            raise Answer(400, "invalid kind or name '%s/%s'" % (kind, name))
        need(["GET", "PUT", "DELETE"])
        a = need_account()
        key = kind + "/" + name
        r = region_of(a, region, create=method == "PUT")
        cur = r["resources"].get(key) if r else None
        if_match = req["headers"].get("if-match")
        if_none = req["headers"].get("if-none-match")
        if method == "GET":
            if cur is None:
                raise Answer(404, "no such resource")
            return 200, {"kind": kind, "name": name, "managed": cur["managed"], "spec": cur["spec"]}, \
                {"ETag": quoted(cur["etag"])}
        if method == "DELETE":
            if cur is None:
                raise Answer(404, "no such resource")
            if if_match is not None and if_match != "*" and if_match != quoted(cur["etag"]):
                raise Answer(412, "resource %s has ETag %s" % (key, quoted(cur["etag"])))
            del r["resources"][key]
            r["version"] += 1
            return 204, None, {}
        fp = req["headers"].get("x-flotilla-fingerprint", "")
        if not HEX32.match(fp):
            raise Answer(400, "X-Flotilla-Fingerprint must be 32 lowercase hex digits")
        if if_match is None and if_none is None:
            raise Answer(428, "a resource write needs If-Match or If-None-Match: *")
        if if_none is not None:
            if if_none != "*" or if_match is not None:
                raise Answer(400, "If-None-Match must be * and come alone")
            if cur is not None:
                raise Answer(412, "resource %s exists" % key, {"ETag": quoted(cur["etag"])})
        elif cur is None:
            raise Answer(412, "resource %s does not exist" % key)
        elif if_match != quoted(cur["etag"]):
            raise Answer(412, "resource %s has ETag %s" % (key, quoted(cur["etag"])),
                         {"ETag": quoted(cur["etag"])})
        spec = json_body(req)
        r["resources"][key] = {"kind": kind, "name": name, "managed": True, "spec": spec, "etag": fp}
        r["version"] += 1
        return (201 if cur is None else 200), {"kind": kind, "name": name}, {"ETag": quoted(fp)}

    raise Answer(404, "no such path")


def mean_in_flight():
    """The mean number of requests waiting out the latency, over the sampled span."""
    samples = COUNTS["samples"]
    return sum(samples) / len(samples) if samples else 0.0


async def sample_in_flight():
    """Samples in_flight every 10 ms while account requests come in (for benchmarks)."""
    while True:
        await asyncio.sleep(0.01)
        if COUNTS["requests"] and time.monotonic() - COUNTS.get("last", 0) < 0.1:
            COUNTS["samples"].append(COUNTS["in_flight"])


def handle_control(req, path):
    global TOKENS
    method = req["method"]
    if path == "/_state" and method == "GET":
        return 200, {"accounts": ACCOUNTS, "requests": COUNTS["requests"],
                     "by_method": COUNTS["by_method"], "by_protocol": COUNTS["by_protocol"],
                     "connections": COUNTS["connections"],
                     "peak_in_flight": COUNTS["peak_in_flight"],
                     "busy_s": round(COUNTS.get("last", 0) - COUNTS.get("first", 0), 4),
                     "mean_in_flight": round(mean_in_flight(), 1),
                     "latency_overshoot_ms": round(1000 * COUNTS["overshoot_s"] / max(COUNTS["delayed"], 1), 3),
                     "faults": FAULTS}, {}
    if path == "/_state" and method == "POST":
        body = json_body(req)
        ACCOUNTS.clear()
        for name, acct in body.get("accounts", {}).items():
            for r in acct.get("regions", {}).values():
                r.setdefault("marker", None)
                r.setdefault("resources", {})
                r.setdefault("version", 0)
            ACCOUNTS[name] = acct
        return 200, {}, {}
    if path == "/_faults" and method == "POST":
        body = json_body(req)
        if not isinstance(body, dict) or body.get("status") not in (500, 503, 429, 412, "reset"):
            raise Answer(400, 'expected {"status": 500|503|429|412|"reset", "count": n, ...}')
        body.setdefault("count", 1)
        FAULTS.append(body)
        return 200, {}, {}
    if path == "/_faults" and method == "DELETE":
        FAULTS.clear()
        return 200, {}, {}
    if path == "/_tokens" and method == "POST":
        body = json_body(req)
        TOKENS = body if body else None
        return 200, {}, {}
    if path == "/_reset" and method == "POST":
        ACCOUNTS.clear()
        FAULTS.clear()
        COUNTS.update({"requests": 0, "by_method": {}, "by_protocol": {}, "connections": {},
                       "peak_in_flight": 0, "samples": [], "overshoot_s": 0.0, "delayed": 0})
        COUNTS.pop("first", None)
        COUNTS.pop("last", None)
        return 200, {}, {}
    raise Answer(404, "no such path")


def begin(req):
    """Counts an account request; returns its path, or None for a test hook."""
    path = req["path"].split("?", 1)[0]
    if path.startswith("/_"):
        return None
    now = time.monotonic()
    if COUNTS["requests"] == 0:
        COUNTS["first"] = now
    COUNTS["requests"] += 1
    COUNTS["by_method"][req["method"]] = COUNTS["by_method"].get(req["method"], 0) + 1
    COUNTS["by_protocol"][req["version"]] = COUNTS["by_protocol"].get(req["version"], 0) + 1
    COUNTS["in_flight"] += 1
    COUNTS["peak_in_flight"] = max(COUNTS["peak_in_flight"], COUNTS["in_flight"])
    return path


def answer(req, path):
    """The answer (status, body, headers) to req; raises Reset to close without one."""
    try:
        if path is None:
            return handle_control(req, req["path"].split("?", 1)[0])
        COUNTS["in_flight"] -= 1
        COUNTS["last"] = time.monotonic()
        fault = take_fault(req["method"], path)
        if fault:
            if fault["status"] == "reset":
                raise Reset()
            headers = {}
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            raise Answer(fault["status"], "injected fault", headers)
        m = ACCOUNT_PATH.match(path)
        if not m:
            raise Answer(404, "no such path (the API lives under /v1/accounts/<account>)")
        return handle_account(req, m.group(1), m.group(2))
    except Answer as a:
        return a.status, a.body, a.headers


def serve(req, alive, send, reset):
    """Answers req, the same way over either protocol: counts it, waits out the
    latency (account requests only), then calls send(status, body, headers),
    or reset() for a "reset" fault. alive() false by then: the client gave up
    waiting (closed the connection, or reset the stream), and nothing is sent.
    req: {"method", "path", "version", "headers" (lower-case names), "body"}."""
    path = begin(req)
    due = time.monotonic() + LATENCY

    def respond():
        if path is not None and LATENCY:
            COUNTS["overshoot_s"] += time.monotonic() - due
            COUNTS["delayed"] += 1
        if not alive():
            if path is not None:
                COUNTS["in_flight"] -= 1
            return
        try:
            status, body, headers = answer(req, path)
        except Reset:
            return reset()
        send(status, body, headers)

    if path is not None and LATENCY:
        asyncio.get_running_loop().call_later(LATENCY, respond)
    else:
        respond()


def count_connection(protocol):
    COUNTS["connections"][protocol] = COUNTS["connections"].get(protocol, 0) + 1


def nodelay(transport):
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def response_fields(status, body, headers):
    """The body bytes and header fields of an answer, for either protocol."""
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    fields = [("Server", "flotilla-account-api"), ("Content-Length", "%d" % len(data))]
    if body is not None:
        fields.append(("Content-Type", "application/json"))
    fields.extend(headers.items())
    return data, fields


def render(status, body, headers, head_only=False):
    data, fields = response_fields(status, body, headers)
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Unknown"))]
    lines.extend("%s: %s" % (k, v) for k, v in fields)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else data)


def parse_head(head):
    """The request line and headers of head (bytes up to the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise Answer(400, "bad request line")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise Answer(411, "send a Content-Length, not chunks")
    try:
        n = int(headers.get("content-length") or 0)
    except ValueError:
        raise Answer(400, "bad Content-Length")
    if n < 0 or n > MAX_BODY:
        raise Answer(413, "body too large")
    return {"method": method, "path": target, "version": version, "headers": headers, "length": n}


class Connection(asyncio.Protocol):
    """One client connection: requests one at a time, each answered after the latency.

    A protocol with a timer per request rather than a task per connection: a
    connection costs little, which matters because flotilla opens one per request.
    With --http2, a TLS connection whose ALPN chose "h2" is handed to H2Connection.
    """

    def connection_made(self, transport):
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            other = H2Connection()
            transport.set_protocol(other)
            other.connection_made(transport)
            return
        count_connection("HTTP/1.1")
        self.transport = transport
        self.buf = b""
        self.busy = False  # a request is waiting out the latency
        self.closing = False
        nodelay(transport)

    def data_received(self, data):
        self.buf += data
        self.next_request()

    def eof_received(self):
        self.closing = True
        if not self.busy:
            self.transport.close()
        return True

    def next_request(self):
        if self.busy or self.closing:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > 65536:
                self.fail(431, "request headers too large")
            return
        try:
            req = parse_head(self.buf[:end])
        except Answer as a:
            return self.fail(a.status, a.body["error"])
        total = end + 4 + req["length"]
        if len(self.buf) < total:
            return
        req["body"] = self.buf[end + 4:total]
        self.buf = self.buf[total:]
        self.busy = True
        serve(req, lambda: not self.transport.is_closing(),
              lambda status, body, headers: self.send(req, status, body, headers), self.reset)

    def send(self, req, status, body, headers):
        self.busy = False
        keep = req["headers"].get("connection", "").lower() != "close" and req["version"] == "HTTP/1.1"
        self.transport.write(render(status, body, headers, req["method"] == "HEAD"))
        if not keep or self.closing:
            self.closing = True
            self.transport.close()
            return
        if self.buf:
            self.next_request()

    def reset(self):
        self.busy = False
        sock = self.transport.get_extra_info("socket")
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.transport.abort()

    def fail(self, status, error):
        self.closing = True
        self.transport.write(render(status, {"error": error}, {"Connection": "close"}))
        self.transport.close()


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection (ALPN "h2", --http2): its streams are requests,
    each handed to serve() once its body has come, so they wait out the
    latency at once. An answer larger than the client's flow-control window
    is sent as the window opens."""

    def connection_made(self, transport):
        count_connection("HTTP/2")
        self.transport = transport
        self.closing = False
        # stream id -> {"state": "reading" (its body), "serving" (in serve()),
        # "sending" (the answer's unsent bytes in "out"), "headers", "body", "out"}
        self.streams = {}
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                         header_encoding="latin-1"))
        self.conn.initiate_connection()
        nodelay(transport)
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()  # the GOAWAY h2 prepared
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self.streams[ev.stream_id] = {"state": "reading", "headers": ev.headers,
                                              "body": bytearray(), "out": b""}
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                st = self.streams.get(ev.stream_id)
                if st is not None and st["state"] == "reading":
                    st["body"] += ev.data
                    if len(st["body"]) > MAX_BODY:  # answered at once and not counted, as over HTTP/1.1
                        self.send(ev.stream_id, False, 413, {"error": "body too large"}, {})
            elif isinstance(ev, h2.events.StreamEnded):
                st = self.streams.get(ev.stream_id)
                if st is not None and st["state"] == "reading":
                    self.request(ev.stream_id, st)
            elif isinstance(ev, h2.events.StreamReset):
                self.streams.pop(ev.stream_id, None)  # the client gave up on it
            elif isinstance(ev, h2.events.WindowUpdated):
                for sid, st in list(self.streams.items()):
                    if st["state"] == "sending" and ev.stream_id in (0, sid):
                        self.pump(sid, st)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closing = True
        self.flush()
        self.close_if_idle()

    def request(self, sid, st):
        headers = {}
        for name, value in st["headers"]:
            headers[name.lower()] = value
        req = {"method": headers.pop(":method", ""), "path": headers.pop(":path", ""),
               "version": "HTTP/2", "headers": {k: v for k, v in headers.items() if not k.startswith(":")},
               "body": bytes(st["body"])}
        st.update(state="serving", headers=None, body=None)
        serve(req, lambda: not self.transport.is_closing() and self.streams.get(sid) is st,
              lambda status, body, headers: self.send(sid, req["method"] == "HEAD", status, body, headers),
              lambda: self.reset(sid))

    def send(self, sid, head_only, status, body, headers):
        st = self.streams[sid]
        data, fields = response_fields(status, body, headers)
        st.update(state="sending", headers=None, body=None, out=b"" if head_only else data)
        self.conn.send_headers(sid, [(":status", str(status))] + [(k.lower(), v) for k, v in fields],
                               end_stream=not st["out"])
        self.pump(sid, st)
        self.flush()
        self.close_if_idle()

    def pump(self, sid, st):
        """Sends what of the answer on stream sid the flow-control windows allow."""
        while st["out"]:
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                    len(st["out"]))
            if n <= 0:
                return
            chunk, st["out"] = st["out"][:n], st["out"][n:]
            self.conn.send_data(sid, chunk, end_stream=not st["out"])
        del self.streams[sid]

    def reset(self, sid):
        del self.streams[sid]
        self.conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        self.flush()
        self.close_if_idle()

    def close_if_idle(self):
        if self.closing and not self.streams:
            self.transport.close()

    def eof_received(self):
        self.closing = True
        self.close_if_idle()
        return True


def main(argv):
    global TOKENS, LATENCY, h2
    # Only a pipe, socket or terminal tells of its end; /dev/null or a file
    # would read as ended at once under select(). Without one, SIGTERM stops
    # us. Asked before the event loop opens anything: with standard input
    # closed, its own descriptors would take the number 0.
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = 0
    watch_stdin = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(0)
    tls = None
    cert = key = client_ca = None
    http2 = False
    i = 1
    usage = ("usage: account_api.py [--tls CERT KEY [--client-ca CA] [--http2]] [--tokens FILE]"
             " [--latency-ms N]\n")
    try:
        while i < len(argv):
            if argv[i] == "--tls":
                cert, key = argv[i + 1], argv[i + 2]
                i += 3
            elif argv[i] == "--client-ca":
                client_ca = argv[i + 1]
                i += 2
            elif argv[i] == "--http2":
                http2 = True
                i += 1
            elif argv[i] == "--tokens":
                with open(argv[i + 1]) as f:
                    TOKENS = json.load(f)
                i += 2
            elif argv[i] == "--latency-ms":
                LATENCY = int(argv[i + 1]) / 1000.0
                i += 2
            else:
                raise IndexError
    except (IndexError, ValueError):
        sys.stderr.write(usage)
        return 2
    if http2 and not cert:
        sys.stderr.write("account_api.py: --http2 needs --tls (HTTP/2 is negotiated with ALPN)\n" + usage)
        return 2
    if http2:
        try:
            import h2.config
            import h2.connection
            import h2.errors
            import h2.events
            import h2.exceptions
        except ImportError as e:
            sys.stderr.write("account_api.py: --http2 needs the h2 package (Debian: python3-h2), which %s "
                             "cannot import: %s\n" % (sys.executable, e))
            return 2
    if cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        tls.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
        if client_ca:
            tls.load_verify_locations(client_ca)
            tls.verify_mode = ssl.CERT_REQUIRED

    async def run():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: None)  # failed handshakes are part of the tests
        server = await loop.create_server(Connection, "127.0.0.1", 0, ssl=tls, backlog=1024,
                                          ssl_handshake_timeout=10 if tls else None)
        port = server.sockets[0].getsockname()[1]
        sampler = asyncio.ensure_future(sample_in_flight()) if LATENCY else None
        sys.stdout.write("PORT %d\n" % port)
        sys.stdout.flush()
        done = loop.create_future()

        def stdin_closed():
            try:
                data = os.read(0, 4096)
            except OSError:
                data = b""
            if not data and not done.done():
                loop.remove_reader(0)
                done.set_result(None)

        if watch_stdin:
            loop.add_reader(0, stdin_closed)
        loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
        await done
        if sampler:
            sampler.cancel()
        server.close()

    # With a latency, select() rather than epoll: epoll waits in whole
    # milliseconds, rounded up, so every timer fired 0.8 ms late on average and
    # "20 ms" meant 20.8 (4% of the http benchmark's bound); select() waits
    # to the microsecond. Its limit of 1024 descriptors is far above the
    # connections of any test or benchmark here.
    selector = selectors.SelectSelector() if LATENCY else selectors.DefaultSelector()
    loop = asyncio.SelectorEventLoop(selector)
    asyncio.set_event_loop(loop)
    loop.run_until_complete(run())
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
