#!/usr/bin/env python3
"""A loopback smart-HTTP git server for the remote repository tests (stdlib only).

Each request runs `git http-backend` as a CGI program with GIT_PROJECT_ROOT
set to --root and GIT_HTTP_EXPORT_ALL, with http.receivepack enabled, so the
repositories under --root can be cloned, fetched and pushed to over
http://127.0.0.1:<port>/<name>.git.

It listens on 127.0.0.1 on a port the OS picks, prints "PORT <n>" as its
first line of standard output, and exits on SIGTERM, or when the test that
started it goes away: when standard input (if a pipe) closes, else when its
parent process exits (a background job of a script has /dev/null as input).

Usage: git_http_server.py --root DIR [--token TOKEN] [--log FILE]

--token: every request must authenticate with TOKEN, either as the password
of HTTP basic authentication (any user name, as forges take a token) or as
"Authorization: Bearer TOKEN"; others get 401 with a Basic challenge.
--log: appends one line per request: "METHOD PATH STATUS USER", USER being
the basic user name or "-" (the token itself is never logged).
"""

import argparse
import base64
import os
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOG_LOCK = threading.Lock()


def log_line(text):
    if not ARGS.log:
        return
    with LOG_LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(text + "\n")


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no body is ever left half read.
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # keep the test's output clean
        pass

    def authorized(self):
        """(ok, user): whether the request carries the token, and who it says it is."""
        if not ARGS.token:
            return True, "-"
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:] == ARGS.token, "bearer"
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False, "-"
            return password == ARGS.token, user or "-"
        return False, "-"

    def read_body(self):
        """The request body, de-chunked (libgit2 sends pushes chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the blank line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_git(self):
        ok, user = self.authorized()
        path, _, query = self.path.partition("?")
        if not ok:
            log_line("%s %s 401 %s" % (self.command, path, user))
            self.answer(401, [("WWW-Authenticate", 'Basic realm="flotilla-test"'),
                              ("Content-Type", "text/plain")], b"authentication required\n")
            return
        body = self.read_body()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": ARGS.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": ARGS.root,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": user if user != "-" else "",
        }
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                            ("Git-Protocol", "GIT_PROTOCOL")):
            if self.headers.get(header):
                env[var] = self.headers[header]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        if proc.returncode != 0 and status == 200:
            status, headers, payload = 500, [("Content-Type", "text/plain")], proc.stderr
        log_line("%s %s %d %s" % (self.command, path, status, user))
        self.answer(status, headers, payload)

    do_GET = handle_git
    do_POST = handle_git


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--token")
    parser.add_argument("--log")
    ARGS = parser.parse_args()
    ARGS.root = os.path.abspath(ARGS.root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        if stat.S_ISFIFO(os.fstat(0).st_mode):
            sys.stdin.read()
        else:
            parent = os.getppid()
            while os.getppid() == parent:
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
