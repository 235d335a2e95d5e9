#!/usr/bin/env python3
"""A fake forge for the commit-status tests: GitHub, GitLab or Gitea/Forgejo.

Plays one forge (--kind) on 127.0.0.1 at a port the OS chooses, printed as
"PORT <n>" on the first line of standard output. It enforces what each
forge's documented commit-status API enforces, strictly: POST only, the
exact path shape (owner/repo, or GitLab's URL-encoded project path, and a
40-hex sha), the auth header that forge accepts with the configured token
(else 401), Content-Type application/json, a JSON object body with the
required fields and allowed states, and for GitLab the state transitions of
its status state machine (a status cannot be enqueued twice, nor run twice).

It serves each forge's documented reads of a commit's statuses too, with
that forge's pagination: GitHub's combined status (GET .../commits/{ref}/status,
per_page at most 100, page) and list (.../commits/{ref}/statuses); GitLab's
GET /projects/:id/repository/commits/:sha/statuses (latest per name unless
all=true; per_page at most 100, page); Gitea's combined status
(.../commits/{ref}/status, latest per context) and list (.../statuses), with
page and limit (at most 50). GitHub keeps at most 1000 statuses per commit
and context: the next one is refused with GitHub's 422 answer.

It plays each forge's comments on a pull request (merge request) too:
GitHub's issue comments (GET and POST /repos/{owner}/{repo}/issues/{n}/comments,
oldest first, per_page at most 100 (default 30), page, and a Link header;
PATCH /repos/{owner}/{repo}/issues/comments/{id}); a body over 65,536
characters (code points) is refused with GitHub's 422 answer. GitLab's merge
request notes (GET and POST /projects/:id/merge_requests/:iid/notes, newest
first unless sort=asc, order_by created_at or updated_at, per_page at most
100 (default 20), page, X-Next-Page and X-Total headers; PUT .../notes/:note_id),
system notes listed among them; a body over 1,000,000 characters is refused
with GitLab's 400. Gitea's issue comments (GET and POST
/repos/{owner}/{repo}/issues/{index}/comments, all at once, oldest first;
PATCH /repos/{owner}/{repo}/issues/comments/{id}), of any length, as Gitea
stores them. Comments are written as the token's user, "flotilla-bot".

For the tests:
  GET  /_statuses  the accepted statuses, in order, as a JSON list
  GET  /_comments  every comment, in order of creation, as a JSON list of
                   {"id", "pr", "body", "user", "system", "edits"}
  GET  /_stats     {"requests": n, "reads": n, "posts": n, "edits": n, "accepted": n,
                   "rejected": n, "faults": n}
  POST /_faults    a JSON list of faults for the next API requests, in order:
                   "500", "429" (with Retry-After: 1), "drop" (the
                   connection is closed without an answer), "401"; prefixed
                   "GET:", "POST:", "PATCH:" or "PUT:", a fault waits for a
                   request of that method
  POST /_seed      {"sha", "context", "state", "description", "count"}, or a list of
                   them: that many statuses recorded as if posted (not counted as requests)
  POST /_seed_comments  {"pr", "body", "user" (default "alice"), "system" (default
                   false)}, or a list of them: comments recorded as if someone
                   else wrote them (not counted as requests)
  POST /_reset     forget statuses, comments, counters and pending faults
The same faults may be queued from the command line: --fault 500 --fault drop.
Only python3's standard library is used.
"""

import argparse
import json
import re
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
NAME = re.compile(r"^[A-Za-z0-9._-]+$")
STATES = {
    "github": {"error", "failure", "pending", "success"},
    "gitlab": {"pending", "running", "success", "failed", "canceled"},
    "gitea": {"pending", "success", "error", "failure", "warning"},
}
PREFIX = {"github": "", "gitlab": "/api/v4", "gitea": "/api/v1"}
FAULTS = ("500", "429", "drop", "401")
FAULT_METHODS = ("GET", "POST", "PATCH", "PUT")
BOT = "flotilla-bot"  # the user the token belongs to
GITHUB_COMMENT_MAX = 65536  # characters (code points) of an issue comment's body
GITLAB_NOTE_MAX = 1000000   # characters of a note's body


def github_too_long(route):
    """GitHub's answer to a comment body over its limit."""
    return {"message": "Validation Failed",
            "errors": [{"resource": "IssueComment", "code": "unprocessable", "field": "data",
                        "message": "Body is too long (maximum is 65536 characters)"}],
            "documentation_url": "https://docs.github.com/rest/issues/comments#" + route,
            "status": "422"}
GITHUB_MAX_STATUSES = 1000  # per commit and context
GITHUB_CAP_ANSWER = {
    "message": "Validation Failed",
    "errors": [{"resource": "Status", "code": "custom",
                "message": "This SHA and context has reached the maximum number of statuses."}],
    "documentation_url": "https://docs.github.com/rest/commits/statuses#create-a-commit-status",
}
# Page sizes: (default, maximum) of each forge's read routes.
PAGE = {"github": (30, 100), "gitlab": (20, 100), "gitea": (30, 50)}
COMMENT_PAGE = {"github": (30, 100), "gitlab": (20, 100)}
GITHUB_API_VERSIONS = {"2022-11-28", "2026-03-10"}


class Forge:
    """What the server remembers; every access holds lock."""

    def __init__(self, args):
        self.kind = args.kind
        self.token = args.token
        self.repo = args.repo
        self.project = args.project
        self.prefix = PREFIX[args.kind] if args.prefix is None else args.prefix.rstrip("/")
        self.lock = threading.Lock()
        self.faults = list(args.fault or [])
        self.reset(keep_faults=True)

    def reset(self, keep_faults=False):
        self.statuses = []
        self.comments = []
        self.clock = 0  # a comment's times: seconds after 2026-01-01, one a write
        self.requests = 0
        self.reads = 0
        self.posts = 0
        self.edits = 0
        self.accepted = 0
        self.rejected = 0
        self.faulted = 0
        # GitLab: (sha, name) -> state of the status still pending or running
        self.active = {}
        if not keep_faults:
            self.faults = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-forge/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        if self.server.verbose:
            sys.stderr.write("fake_forge: " + (fmt % args) + "\n")

    # ---- plumbing ----

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, status, doc, extra=None):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- the test endpoints ----

    def test_endpoint(self, method, raw):
        f = self.server.forge
        if method == "GET" and self.path == "/_statuses":
            with f.lock:
                return self.answer(200, f.statuses)
        if method == "GET" and self.path == "/_comments":
            with f.lock:
                return self.answer(200, [{k: c[k] for k in ("id", "pr", "body", "user", "system", "edits")}
                                         for c in f.comments])
        if method == "GET" and self.path == "/_stats":
            with f.lock:
                return self.answer(200, {"requests": f.requests, "reads": f.reads, "posts": f.posts,
                                         "edits": f.edits, "accepted": f.accepted, "rejected": f.rejected,
                                         "faults": f.faulted})
        if method == "POST" and self.path == "/_seed_comments":
            try:
                docs = json.loads(raw)
                seeds = [(int(d["pr"]), str(d["body"]), str(d.get("user", "alice")), bool(d.get("system", False)))
                         for d in (docs if isinstance(docs, list) else [docs])]
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.answer(400, {"message": "expected {pr, body, user, system} or a list"})
            with f.lock:
                for pr, body, user, system in seeds:
                    self.add_comment(pr, body, user, system)
            return self.answer(200, {"comments": len(f.comments)})
        if method == "POST" and self.path == "/_faults":
            try:
                faults = json.loads(raw or b"[]")
                assert isinstance(faults, list)
                assert all(isinstance(x, str) and x.split(":")[-1] in FAULTS and
                           (":" not in x or x.split(":")[0] in FAULT_METHODS) for x in faults)
            except (ValueError, AssertionError):
                return self.answer(400, {"message": "expected a list of \"500\", \"429\", \"drop\", \"401\", "
                                                    "each perhaps prefixed GET:, POST:, PATCH: or PUT:"})
            with f.lock:
                f.faults.extend(faults)
            return self.answer(200, {"faults": len(f.faults)})
        if method == "POST" and self.path == "/_seed":
            try:
                docs = json.loads(raw)
                seeds = []
                for doc in docs if isinstance(docs, list) else [docs]:
                    entry = {"sha": doc["sha"].lower(), "context": doc["context"], "name": doc["context"],
                             "state": doc["state"], "description": doc.get("description"), "target_url": None}
                    seeds.append((entry, int(doc.get("count", 1))))
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.answer(400, {"message": "expected {sha, context, state, description, count} or a list"})
            with f.lock:
                for entry, count in seeds:
                    for _ in range(count):
                        self.record(dict(entry))
            return self.answer(200, {"statuses": len(f.statuses)})
        if method == "POST" and self.path == "/_reset":
            with f.lock:
                f.reset()
            return self.answer(200, {})
        return self.answer(404, {"message": "Not Found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        raw = self.body()
        if self.path.startswith("/_"):
            return self.test_endpoint(method, raw)
        f = self.server.forge
        with f.lock:
            f.requests += 1
            if method == "GET":
                f.reads += 1
            elif method == "POST":
                f.posts += 1
            elif method in ("PATCH", "PUT"):
                f.edits += 1
            fault = self.take_fault(method)
        if fault == "drop":
            return self.drop()
        if fault == "500":
            return self.answer(500, {"message": "Internal Server Error"})
        if fault == "429":
            return self.answer(429, {"message": "API rate limit exceeded"}, {"Retry-After": "1"})
        routed = self.comment_api(method, raw, fault == "401")
        status, doc, extra = routed if routed else self.api(method, raw, fault == "401") + (None,)
        with f.lock:
            if status < 300:
                f.accepted += 1
            else:
                f.rejected += 1
        self.answer(status, doc, extra)

    def take_fault(self, method):
        """The first pending fault for method (one without a method is for any); holds lock."""
        f = self.server.forge
        for i, x in enumerate(f.faults):
            want, _, what = x.rpartition(":")
            if not want or want == method:
                del f.faults[i]
                f.faulted += 1
                return what
        return None

    # ---- comments on pull requests ----

    def add_comment(self, pr, body, user, system=False):
        """Records a comment; holds lock."""
        f = self.server.forge
        f.clock += 1
        c = {"id": 1000 + len(f.comments) + 1, "pr": pr, "body": body, "user": user, "system": system,
             "edits": 0, "created": f.clock, "updated": f.clock}
        f.comments.append(c)
        return c

    @staticmethod
    def stamp(seconds):
        return "2026-01-01T%02d:%02d:%02dZ" % (seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)

    def shown_comment(self, c):
        """A comment as the forge's API shows it."""
        f = self.server.forge
        times = {"created_at": self.stamp(c["created"]), "updated_at": self.stamp(c["updated"])}
        if f.kind == "gitlab":
            return dict({"id": c["id"], "type": None, "body": c["body"], "author": {"username": c["user"]},
                         "system": c["system"], "noteable_type": "MergeRequest", "noteable_iid": c["pr"],
                         "resolvable": False}, **times)
        return dict({"id": c["id"], "body": c["body"], "user": {"login": c["user"]},
                     "issue_url": "/repos/%s/issues/%d" % (f.repo or "o/r", c["pr"])}, **times)

    def comment_route(self):
        """(where, pr, comment id, list route?) of a comment path of this forge, or None."""
        f = self.server.forge
        path = self.path.split("?", 1)[0]
        if not path.startswith(f.prefix + "/"):
            return None
        rest = path[len(f.prefix):]
        if f.kind == "gitlab":
            m = re.match(r"^/projects/([^/]+)/merge_requests/([^/]+)/notes(?:/([^/]+))?$", rest)
            if not m:
                return None
            return urllib.parse.unquote(m.group(1)), m.group(2), m.group(3), m.group(3) is None
        m = re.match(r"^/repos/([^/]+)/([^/]+)/issues/([^/]+)/comments$", rest)
        if m:
            return m.group(1) + "/" + m.group(2), m.group(3), None, True
        m = re.match(r"^/repos/([^/]+)/([^/]+)/issues/comments/([^/]+)$", rest)
        if m:
            return m.group(1) + "/" + m.group(2), None, m.group(3), False
        return None

    def comment_api(self, method, raw, force_401):
        """The comment routes: (status, doc, headers), or None for a path that is not one."""
        f = self.server.forge
        route = self.comment_route()
        if route is None:
            return None
        where, pr, cid, listing = route
        allowed = ("GET", "POST") if listing else (("PUT",) if f.kind == "gitlab" else ("PATCH",))
        if method not in allowed:
            return 405, {"message": "Method Not Allowed"}, None
        if not self.authorised() or force_401:
            return 401, {"message": "401 Unauthorized" if f.kind == "gitlab" else "Bad credentials"}, None
        want = f.project if f.kind == "gitlab" else f.repo
        if want is not None and where != want:
            return 404, {"message": "404 Project Not Found" if f.kind == "gitlab" else "Not Found"}, None
        for number in (pr, cid):
            if number is not None and not re.match(r"^[1-9][0-9]*$", number):
                return 404, {"message": "404 Not found" if f.kind == "gitlab" else "Not Found"}, None
        if f.kind == "github" and not self.headers.get("User-Agent"):
            return 403, {"message": "Request forbidden by administrative rules. "
                                    "Please make sure your request has a User-Agent header"}, None
        if method == "GET":
            return self.list_comments(int(pr))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return 415, {"message": "Unsupported Media Type: expected application/json, got '%s'" % ctype}, None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, {"message": "Problems parsing JSON"}, None
        body = doc.get("body") if isinstance(doc, dict) else None
        if not isinstance(body, str) or (f.kind != "github" and not body):
            if f.kind == "github":
                return 422, {"message": "Invalid request.\n\n\"body\" wasn't supplied.",
                             "documentation_url": "https://docs.github.com/rest/issues/comments"}, None
            if f.kind == "gitlab":
                return 400, {"error": "body is missing"}, None
            return 422, [{"fieldNames": ["Body"], "classification": "RequiredError", "message": "Required"}], None
        if f.kind == "github" and len(body) > GITHUB_COMMENT_MAX:
            return 422, github_too_long("update-an-issue-comment" if cid else "create-an-issue-comment"), None
        if f.kind == "gitlab" and len(body) > GITLAB_NOTE_MAX:
            return 400, {"message": {"note": ["is too long (maximum is %d characters)" % GITLAB_NOTE_MAX]}}, None
        with f.lock:
            if cid is None:
                return 201, self.shown_comment(self.add_comment(int(pr), body, BOT)), None
            found = [c for c in f.comments if c["id"] == int(cid) and (pr is None or c["pr"] == int(pr))]
            if not found or found[0]["system"]:
                return 404, {"message": "404 Not found" if f.kind == "gitlab" else "Not Found"}, None
            c = found[0]
            if c["user"] != BOT:  # only the author (or an admin, which the bot is not) may edit
                return 403, {"message": "403 Forbidden" if f.kind == "gitlab" else "Must have admin rights"}, None
            f.clock += 1
            c["body"], c["updated"], c["edits"] = body, f.clock, c["edits"] + 1
            return 200, self.shown_comment(c), None

    def list_comments(self, pr):
        """One page of the comments of pr (all of them on Gitea), with the forge's paging headers."""
        f = self.server.forge
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        with f.lock:
            mine = [c for c in f.comments if c["pr"] == pr]
            if f.kind == "gitea":
                return 200, [self.shown_comment(c) for c in mine if not c["system"]], None
            if f.kind == "gitlab":
                key = "updated" if q.get("order_by", ["created_at"])[0] == "updated_at" else "created"
                mine.sort(key=lambda c: (c[key], c["id"]), reverse=q.get("sort", ["desc"])[0] != "asc")
            default, most = COMMENT_PAGE[f.kind]
            try:
                page = max(int(q.get("page", ["1"])[0]), 1)
                size = min(max(int(q.get("per_page", [str(default)])[0]), 1), most)
            except ValueError:
                return 400, {"message": "page and per_page must be integers"}, None
            items = [self.shown_comment(c) for c in mine[(page - 1) * size:page * size]]
        pages = max((len(mine) + size - 1) // size, 1)
        if f.kind == "gitlab":
            return 200, items, {"X-Page": str(page), "X-Per-Page": str(size), "X-Total": str(len(mine)),
                                "X-Total-Pages": str(pages), "X-Next-Page": str(page + 1) if page < pages else ""}
        base = "http://127.0.0.1:%d%s" % (self.server.server_address[1], self.path.split("?", 1)[0])
        links = ['<%s?per_page=%d&page=%d>; rel="%s"' % (base, size, n, rel)
                 for n, rel in ((page + 1, "next"), (pages, "last")) if page < pages]
        return 200, items, ({"Link": ", ".join(links)} if links else None)

    # ---- the forge APIs ----

    def api(self, method, raw, force_401):
        f = self.server.forge
        path = self.path.split("?", 1)[0]
        if not path.startswith(f.prefix + "/"):
            return 404, {"message": "Not Found"}
        rest = path[len(f.prefix):]
        read = None  # the read route matched: "combined" or "list"
        if f.kind == "gitlab":
            m = re.match(r"^/projects/([^/]+)/statuses/([^/]+)$", rest)
            if not m:
                m = re.match(r"^/projects/([^/]+)/repository/commits/([^/]+)/statuses$", rest)
                read = "list" if m else None
            where = urllib.parse.unquote(m.group(1)) if m else None
            want = f.project
        else:
            m = re.match(r"^/repos/([^/]+)/([^/]+)/statuses/([^/]+)$", rest)
            if not m:
                m = re.match(r"^/repos/([^/]+)/([^/]+)/commits/([^/]+)/(status|statuses)$", rest)
                read = ("combined" if m.group(4) == "status" else "list") if m else None
            where = (m.group(1) + "/" + m.group(2)) if m else None
            want = f.repo
        if not m:
            return 404, {"message": "Not Found"}
        sha = m.group(2) if f.kind == "gitlab" else m.group(3)
        if method != ("GET" if read else "POST"):
            return 405, {"message": "Method Not Allowed"}
        if not self.authorised() or force_401:
            return 401, {"message": "401 Unauthorized" if f.kind == "gitlab" else "Bad credentials"}
        if want is not None and where != want:
            return 404, {"message": "404 Project Not Found" if f.kind == "gitlab" else "Not Found"}
        if not HEX40.match(sha):
            return (404 if f.kind != "gitea" else 422), {"message": "No commit found for SHA: " + sha}
        if read:
            return self.read(sha.lower(), read)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return 415, {"message": "Unsupported Media Type: expected application/json, got '%s'" % ctype}
        if f.kind == "github":
            if not self.headers.get("User-Agent"):
                return 403, {"message": "Request forbidden by administrative rules. "
                                        "Please make sure your request has a User-Agent header"}
            version = self.headers.get("X-GitHub-Api-Version")
            if version is not None and version not in GITHUB_API_VERSIONS:
                return 400, {"message": "Unsupported 'X-GitHub-Api-Version' header specified: " + version}
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, {"message": "Problems parsing JSON"}
        if not isinstance(doc, dict):
            return 400, {"message": "Body should be a JSON object"}
        return getattr(self, "api_" + f.kind)(sha.lower(), doc)

    def page_args(self):
        """(page, size) from the query, as the forge reads them; None for a bad value."""
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        default, most = PAGE[self.server.forge.kind]
        size_key = "limit" if self.server.forge.kind == "gitea" else "per_page"
        try:
            page = int(q.get("page", ["1"])[0])
            size = int(q.get(size_key, [str(default)])[0])
        except ValueError:
            return None
        return max(page, 1), min(max(size, 1), most), q

    def read(self, sha, route):
        """A documented read of the statuses of sha: one page of them."""
        f = self.server.forge
        args = self.page_args()
        if args is None:
            return 400, {"message": "page and " + ("limit" if f.kind == "gitea" else "per_page") +
                                    " must be integers"}
        page, size, q = args
        with f.lock:
            mine = [s for s in f.statuses if s["sha"] == sha]
        everything = f.kind == "gitlab" and q.get("all", ["false"])[0] == "true"
        if route == "combined" or (f.kind == "gitlab" and not everything):
            latest = {}
            for s in mine:  # in order of creation: the last one of a context wins
                latest[s["context"]] = s
            mine = sorted(latest.values(), key=lambda s: s["id"])
        if f.kind == "github" or route == "list":
            mine = list(reversed(mine))  # newest first, as GitHub and Gitea list them
        items = [self.shown(s) for s in mine[(page - 1) * size:page * size]]
        if route == "combined":
            states = {s["state"] for s in mine}
            state = ("failure" if states & {"error", "failure"} else
                     "pending" if not states or "pending" in states else "success")
            return 200, {"state": state, "sha": sha, "total_count": len(mine), "statuses": items}
        return 200, items

    def shown(self, s):
        """A status as the forge's read routes show it."""
        if self.server.forge.kind == "github":
            return {"id": s["id"], "state": s["state"], "description": s["description"],
                    "target_url": s["target_url"], "context": s["context"]}
        if self.server.forge.kind == "gitlab":
            return {"id": s["id"], "sha": s["sha"], "status": s["state"], "name": s["context"],
                    "description": s["description"], "target_url": s["target_url"], "allow_failure": False}
        return {"id": s["id"], "status": s["state"], "context": s["context"], "description": s["description"],
                "target_url": s["target_url"], "creator": {"id": 1, "login": "flotilla"}}

    def authorised(self):
        f = self.server.forge
        auth = self.headers.get("Authorization")
        if f.kind == "gitlab":
            token = self.headers.get("PRIVATE-TOKEN")
            if token is not None:
                return token == f.token
            return auth == "Bearer " + f.token
        # GitHub takes "Bearer" and "token"; Gitea documents "token" and takes "Bearer" too.
        return auth in ("Bearer " + f.token, "token " + f.token)

    @staticmethod
    def bad_url(u):
        return u is not None and not (isinstance(u, str) and re.match(r"^https?://[^/\s]+", u))

    @staticmethod
    def bad_str(doc, key):
        return key in doc and doc[key] is not None and not isinstance(doc[key], str)

    def record(self, entry):
        f = self.server.forge
        entry["id"] = len(f.statuses) + 1
        f.statuses.append(entry)
        return entry

    def api_github(self, sha, doc):
        f = self.server.forge
        state = doc.get("state")
        errors = []
        if state not in STATES["github"]:
            errors.append({"resource": "Status", "field": "state", "code": "custom",
                           "message": "state is not included in the list"})
        for key in ("description", "context", "target_url"):
            if self.bad_str(doc, key):
                errors.append({"resource": "Status", "field": key, "code": "invalid"})
        desc = doc.get("description")
        if isinstance(desc, str) and len(desc) > 140:
            errors.append({"resource": "Status", "field": "description", "code": "custom",
                           "message": "description is too long (maximum is 140 characters)"})
        if self.bad_url(doc.get("target_url")):
            errors.append({"resource": "Status", "field": "target_url", "code": "custom",
                           "message": "target_url must use http(s) scheme"})
        if errors:
            return 422, {"message": "Validation Failed", "errors": errors}
        context = doc.get("context") or "default"
        with f.lock:
            if sum(1 for s in f.statuses if s["sha"] == sha and s["context"] == context) >= GITHUB_MAX_STATUSES:
                return 422, GITHUB_CAP_ANSWER
            e = self.record({"sha": sha, "context": doc.get("context") or "default", "state": state,
                             "description": desc, "target_url": doc.get("target_url"),
                             "accept": self.headers.get("Accept"),
                             "api_version": self.headers.get("X-GitHub-Api-Version")})
        return 201, e

    def api_gitlab(self, sha, doc):
        f = self.server.forge
        state = doc.get("state")
        if state is None:
            return 400, {"error": "state is missing"}
        if state not in STATES["gitlab"]:
            return 400, {"error": "state does not have a valid value"}
        for key in ("name", "description", "target_url", "ref"):
            if self.bad_str(doc, key):
                return 400, {"error": key + " is invalid"}
        if self.bad_url(doc.get("target_url")):
            return 400, {"message": {"target_url": ["is blocked: only allowed schemes are http, https"]}}
        name = doc.get("name") or doc.get("context") or "default"
        with f.lock:
            key = (sha, name)
            cur = f.active.get(key)
            # GitLab finds the pending or running status of that name, else makes a new one,
            # then fires the event of the state asked for; some transitions do not exist.
            event = {"pending": "enqueue", "running": "run"}.get(state)
            if state == "pending" and cur in ("pending", "running"):
                bad = True
            elif state == "running" and cur == "running":
                bad = True
            else:
                bad = False
            if bad:
                msg = ("Cannot transition status via :%s from :%s (Reason(s): Status cannot transition via "
                       "\"%s\")" % (event, cur, event))
                return 400, {"message": msg}
            if state in ("pending", "running"):
                f.active[key] = state
            else:
                f.active.pop(key, None)
            e = self.record({"sha": sha, "name": name, "context": name, "state": state,
                             "description": doc.get("description"), "target_url": doc.get("target_url")})
        return 201, e

    def api_gitea(self, sha, doc):
        f = self.server.forge
        state = doc.get("state")
        if state not in STATES["gitea"]:
            return 422, [{"fieldNames": ["State"], "classification": "InvalidState",
                          "message": "invalid commit status state"}]
        for key in ("description", "context", "target_url"):
            if self.bad_str(doc, key):
                return 422, [{"fieldNames": [key], "classification": "TypeError", "message": "expected a string"}]
        with f.lock:
            e = self.record({"sha": sha, "context": doc.get("context") or "default", "state": state,
                             "description": doc.get("description"), "target_url": doc.get("target_url")})
        return 201, e


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", required=True, choices=sorted(STATES))
    p.add_argument("--token", required=True, help="the one token accepted")
    p.add_argument("--repo", help="owner/name that exists (github, gitea); any if omitted")
    p.add_argument("--project", help="the project path that exists (gitlab); any if omitted")
    p.add_argument("--prefix", help="API path prefix (default: '' github, /api/v4 gitlab, /api/v1 gitea)")
    p.add_argument("--fault", action="append", choices=[m + x for m in ("",) + tuple(k + ":" for k in FAULT_METHODS)
                                                        for x in FAULTS],
                   help="a fault for the next API request (repeatable, in order)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.forge = Forge(args)
    server.verbose = args.verbose
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
