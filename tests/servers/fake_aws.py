#!/usr/bin/env python3
"""A fake of the AWS credential services core/aws_creds.c calls (python3
stdlib only): STS AssumeRoleWithWebIdentity, the container credentials
endpoint and instance metadata (IMDSv2), strict about what each requires.

It listens on 127.0.0.1 on a port the OS picks, prints "PORT <n>" as its
first line of standard output, and exits when standard input closes (so a
test that dies takes it along) or on SIGTERM. HTTP/1.1.

Usage: fake_aws.py

STS (Query protocol, answers in XML as documented):
  POST /   form body (Content-Type application/x-www-form-urlencoded):
           Action=AssumeRoleWithWebIdentity, Version=2011-06-15, RoleArn,
           RoleSessionName, WebIdentityToken all required (400
           MissingParameter / InvalidAction otherwise). A token other than
           the configured one: 400 InvalidIdentityToken. A RoleArn ending in
           "role/denied": 403 AccessDenied; one ending in "role/echo": an
           error whose message quotes the token (a service that misbehaves,
           so tests can check it is never shown).
           Success: AssumeRoleWithWebIdentityResponse with Credentials
           (AccessKeyId ASIAWEB<n>, n counting the answers), Expiration.
Container credentials:
  GET /container/creds   the Authorization header must equal the
           configured container token (401 otherwise); answers JSON
           {AccessKeyId: ASIACTR<n>, SecretAccessKey, Token, Expiration}.
IMDSv2:
  PUT /latest/api/token  needs X-aws-ec2-metadata-token-ttl-seconds between 1
           and 21600 (400 otherwise); answers a new session token.
  GET /latest/meta-data/iam/security-credentials/[ROLE]  needs
           X-aws-ec2-metadata-token equal to a token it gave (401 otherwise);
           the list of roles is the configured role (404 when null), ROLE
           answers JSON {Code: Success, ..., AccessKeyId: ASIAIMDS<n>, ...}.

Test hooks:
  GET  /_state    {"config": ..., "counts": {route: n}, "last_sts": {form}}
  POST /_config   JSON merged into the configuration: web_token,
                  container_token, expiration (the Expiration every answer
                  carries), imds_role (null: no role attached)
"""

import json
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = {
    "web_token": "web-identity-token-0123456789",
    "container_token": "container-token-0123456789",
    "expiration": "2026-12-06T12:00:00Z",
    "imds_role": "flotilla-node",
}
STATE = {"counts": {}, "last_sts": None, "imds_tokens": set(), "serial": 0}
LOCK = threading.Lock()

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sts_error(status, code, message):
    body = ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>Sender</Type>\n'
            '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
            '  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n'
            '</ErrorResponse>\n' % (STS_NS, code, xml_escape(message)))
    return status, "text/xml", body


def next_serial():
    with LOCK:
        STATE["serial"] += 1
        return STATE["serial"]


def sts(form):
    STATE["last_sts"] = form
    if form.get("Action") != "AssumeRoleWithWebIdentity":
        return sts_error(400, "InvalidAction", "Could not find operation %s for version %s"
                         % (form.get("Action"), form.get("Version")))
    if form.get("Version") != "2011-06-15":
        return sts_error(400, "InvalidAction", "unknown Version")
    for name in ("RoleArn", "RoleSessionName", "WebIdentityToken"):
        if not form.get(name):
            return sts_error(400, "MissingParameter",
                             "The request must contain the parameter %s" % name)
    role = form["RoleArn"]
    if role.endswith("role/echo"):
        return sts_error(400, "InvalidIdentityToken", "token '%s' is not valid" % form["WebIdentityToken"])
    if form["WebIdentityToken"] != CONFIG["web_token"]:
        return sts_error(400, "InvalidIdentityToken", "Incorrect token audience.")
    if role.endswith("role/denied"):
        return sts_error(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    n = next_serial()
    body = """<AssumeRoleWithWebIdentityResponse xmlns="%s">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:acme/fleet:ref:refs/heads/main</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>%s/%s</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:%s</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>web-session-token-%d</SessionToken>
      <SecretAccessKey>web-secret-key-%d</SecretAccessKey>
      <Expiration>%s</Expiration>
      <AccessKeyId>ASIAWEB%04d</AccessKeyId>
    </Credentials>
    <Provider>token.actions.githubusercontent.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
""" % (STS_NS, xml_escape(role), xml_escape(form["RoleSessionName"]),
       xml_escape(form["RoleSessionName"]), n, n, CONFIG["expiration"], n)
    return 200, "text/xml", body


def creds_json(prefix, n, extra=None):
    doc = {"AccessKeyId": "%s%04d" % (prefix, n), "SecretAccessKey": "%s-secret-key-%d" % (prefix.lower(), n),
           "Token": "%s-session-token-%d" % (prefix.lower(), n), "Expiration": CONFIG["expiration"]}
    doc.update(extra or {})
    return json.dumps(doc)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def count(self, route):
        with LOCK:
            STATE["counts"][route] = STATE["counts"].get(route, 0) + 1

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_state":
            state = {"config": CONFIG, "counts": STATE["counts"], "last_sts": STATE["last_sts"]}
            return self.answer(200, "application/json", json.dumps(state))
        if path == "/container/creds":
            self.count("container")
            if self.headers.get("Authorization") != CONFIG["container_token"]:
                return self.answer(401, "application/json", '{"message": "unauthorized"}')
            return self.answer(200, "application/json", creds_json("ASIACTR", next_serial()))
        prefix = "/latest/meta-data/iam/security-credentials/"
        if path.startswith(prefix):
            self.count("imds_get")
            if self.headers.get("X-aws-ec2-metadata-token") not in STATE["imds_tokens"]:
                return self.answer(401, "text/plain", "")
            role = CONFIG["imds_role"]
            name = path[len(prefix):]
            if role is None or (name and name != role):
                return self.answer(404, "text/plain", "")
            if not name:
                return self.answer(200, "text/plain", role)
            extra = {"Code": "Success", "LastUpdated": "2026-12-06T09:00:00Z", "Type": "AWS-HMAC"}
            return self.answer(200, "application/json", creds_json("ASIAIMDS", next_serial(), extra))
        self.answer(404, "text/plain", "not found")

    def do_PUT(self):
        self.body()
        if self.path == "/latest/api/token":
            self.count("imds_token")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.answer(400, "text/plain", "")
            token = secrets.token_urlsafe(32)
            with LOCK:
                STATE["imds_tokens"].add(token)
            return self.answer(200, "text/plain", token)
        self.answer(404, "text/plain", "not found")

    def do_POST(self):
        data = self.body()
        if self.path == "/_config":
            CONFIG.update(json.loads(data))
            return self.answer(200, "application/json", "{}")
        if self.path == "/":
            self.count("sts")
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                return self.answer(*sts_error(400, "InvalidParameterValue", "unsupported Content-Type"))
            form = dict(urllib.parse.parse_qsl(data.decode(), keep_blank_values=True))
            return self.answer(*sts(form))
        self.answer(404, "text/plain", "not found")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
