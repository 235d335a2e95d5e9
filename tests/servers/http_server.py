#!/usr/bin/env python3
"""A loopback HTTP(S) server for the tests of core/http.c (python3 stdlib only).

It listens on 127.0.0.1 on a port the OS picks, prints "PORT <n>" as its
first line of standard output, and exits when standard input closes (so a
test that dies takes it along) or on SIGTERM. It speaks HTTP/1.1 only (with
keep-alive): http.server has no HTTP/2, so HTTP/2 is not tested against it.

Usage: http_server.py [--tls CERT KEY] [--client-ca CA] [--script JSON|@FILE]

Routes (per-route counters are keyed by the whole target, path and query, so
a test can get a fresh counter by adding "?k=<unique>"):
  /status/<code>          answers <code>
  /retry-after/<n>        first request 429 with "Retry-After: <n>", then 200
  /retry-after-503/<n>    the same with 503
  /retry-after-date/<n>   the same with an HTTP date <n> seconds ahead
  /flaky/<n>              first <n> requests 503, then 200
  /drop/<n>               first <n> requests: connection closed without answer
  /echo                   the request as JSON: method, path, headers, body,
                          client_cn (subject CN of a client certificate)
  /slow/<ms>              answers 200 after <ms> milliseconds
  /big/<bytes>            a body of <bytes> bytes ("?chunked" sends it chunked)
  /etag/<tag>             200 with ETag: "<tag>" ("?weak": W/"<tag>")
  /_control/script        POST a script (see below) that replaces the current one
  /_control/count         how often each target was requested, as JSON

A script is a JSON object mapping a path to a list of answers, played in
order, the last one repeating: {"/x": [{"status": 503}, {"status": 200,
"headers": {"ETag": "\\"v2\\""}, "body": "ok", "delay_ms": 10}, {"drop": true}]}.
Scripted paths take precedence over the routes above.
"""

import email.utils
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}   # target -> requests seen
SCRIPT = {}   # path -> list of answers


def bump(target):
    with LOCK:
        COUNTS[target] = COUNTS.get(target, 0) + 1
        return COUNTS[target]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the body
    # waits for the client's delayed ACK (up to 40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "flotilla-test"
    sys_version = ""

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, format, *args):  # quiet: the tests read stdout
        pass

    def answer(self, status, body=b"", headers=None, chunked=False):
        if isinstance(body, str):
            body = body.encode()
        if status in (204, 304):
            body = b""  # RFC 9110: no content; bytes sent anyway would poison a kept-alive connection
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 4096
            for i in range(0, len(body), step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            if not any(k.lower() == "content-type" for k in (headers or {})):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        body = self.read_body()
        target = self.path
        path, _, query = target.partition("?")
        count = bump(target)
        parts = path.strip("/").split("/")
        head, arg = parts[0], (parts[1] if len(parts) > 1 else "")

        if path in SCRIPT and SCRIPT[path]:
            steps = SCRIPT[path]
            step = steps[min(count, len(steps)) - 1]
            if step.get("delay_ms"):
                time.sleep(step["delay_ms"] / 1000.0)
            if step.get("drop"):
                return self.drop()
            return self.answer(step.get("status", 200), step.get("body", ""), step.get("headers"))

        if path == "/_control/script" and self.command == "POST":
            SCRIPT.clear()
            SCRIPT.update(json.loads(body or b"{}"))
            return self.answer(200, "{}")
        if path == "/_control/count":
            with LOCK:
                return self.answer(200, json.dumps(COUNTS))
        if head == "status":
            return self.answer(int(arg), json.dumps({"status": int(arg)}))
        if head in ("retry-after", "retry-after-503", "retry-after-date"):
            if count > 1:
                return self.answer(200, '{"ok":true}')
            value = arg
            if head == "retry-after-date":
                value = email.utils.formatdate(time.time() + int(arg), usegmt=True)
            code = 503 if head == "retry-after-503" else 429
            return self.answer(code, '{"error":"slow down"}', {"Retry-After": value})
        if head == "flaky":
            if count <= int(arg):
                return self.answer(503, '{"error":"unavailable"}')
            return self.answer(200, '{"ok":true}')
        if head == "drop":
            if count <= int(arg):
                return self.drop()
            return self.answer(200, '{"ok":true}')
        if head == "echo":
            cert = None
            if isinstance(self.connection, ssl.SSLSocket):
                cert = self.connection.getpeercert()
            cn = ""
            for rdn in (cert or {}).get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
            return self.answer(200, json.dumps({
                "method": self.command,
                "path": target,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "client_cn": cn,
            }))
        if head == "slow":
            time.sleep(int(arg) / 1000.0)
            return self.answer(200, '{"ok":true}')
        if head == "big":
            return self.answer(200, b"x" * int(arg), {"Content-Type": "text/plain"},
                               chunked="chunked" in query)
        if head == "etag":
            tag = ('W/"%s"' if "weak" in query else '"%s"') % arg
            return self.answer(200, "{}", {"ETag": tag})
        return self.answer(404, '{"error":"no such route"}')

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024   # the default 5 drops SYNs when 100 clients connect at once
    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls:
            # The handshake happens in the handler's thread (Handler.setup),
            # so a slow or failing client does not hold up accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # clients that fail verification or hang up are part of the tests


def main(argv):
    tls = None
    i = 1
    cert = key = client_ca = None
    while i < len(argv):
        if argv[i] == "--tls":
            cert, key = argv[i + 1], argv[i + 2]
            i += 3
        elif argv[i] == "--client-ca":
            client_ca = argv[i + 1]
            i += 2
        elif argv[i] == "--script":
            text = argv[i + 1]
            if text.startswith("@"):
                with open(text[1:]) as f:
                    text = f.read()
            SCRIPT.update(json.loads(text))
            i += 2
        else:
            sys.stderr.write("usage: http_server.py [--tls CERT KEY] [--client-ca CA] [--script JSON|@FILE]\n")
            return 2
    if cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        tls.set_alpn_protocols(["http/1.1"])
        if client_ca:
            tls.load_verify_locations(client_ca)
            tls.verify_mode = ssl.CERT_OPTIONAL

    server = Server(("127.0.0.1", 0), Handler)
    server.tls = tls
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
