"""Signs the same requests with core/sigv4.c (through the sigv4_sign helper)
and with botocore's SigV4Auth / S3SigV4Auth at the same frozen time, and
compares the Authorization headers byte for byte, the other headers each adds,
and the query string to send against botocore's canonical one. Run by
tests/e2e/sigv4_botocore.sh: python3 sigv4_botocore.py PATH-TO-sigv4_sign.

The requests are the ones the aws driver sends (Cloud Control's JSON 1.0 and
Organizations' JSON 1.1 POSTs with X-Amz-Target, STS's form POSTs), with and
without a session token, plus odd paths, query strings, header values and
times; botocore must first reproduce three published test-suite signatures,
which proves the frozen clock is in effect.
"""
import datetime
import hashlib
import subprocess
import sys
import types

import botocore
import botocore.auth as auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGN = sys.argv[1]

SUITE = dict(key="AKIDEXAMPLE", secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
             region="us-east-1", service="service", host="example.amazonaws.com", when=1440938160)
KEY = dict(key="AKIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TOKEN = ("IQoJb3JpZ2luX2VjEH0aCXVzLWVhc3QtMSJHMEUCIQD6/example+token/with=padding"
         "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/==")
CC_JSON = {"Content-Type": "application/x-amz-json-1.0"}
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def blob(n):
    """n deterministic bytes of every value, not valid UTF-8."""
    out = bytearray()
    seed = b"flotilla"
    while len(out) < n:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:n])


def case(name, **kw):
    c = dict(method="GET", path="/", query=[], headers=[], payload=b"", token=None,
             scheme="https", s3=False, content_sha256=False, expect=None)
    c.update(KEY, region="us-east-1", when=1765000000, name=name)
    c.update(kw)
    return c


def cloudcontrol(name, target, body, **kw):
    return case(name, method="POST", host="cloudcontrolapi.eu-west-1.amazonaws.com",
                region="eu-west-1", service="cloudcontrolapi",
                headers=[("Content-Type", "application/x-amz-json-1.0"),
                         ("X-Amz-Target", "CloudApiService." + target)],
                payload=body.encode(), **kw)


def sts(name, body, **kw):
    kw.setdefault("host", "sts.amazonaws.com")
    return case(name, method="POST", service="sts", headers=[("Content-Type", FORM)],
                payload=body.encode(), **kw)


CREATE = ('{"ClientToken":"7f1c2a9e-acme-eu-west-1-state-create","DesiredState":'
          '"{\\"Name\\":\\"/flotilla/state\\",\\"Type\\":\\"String\\",\\"Value\\":\\"{}\\"}",'
          '"TypeName":"AWS::SSM::Parameter"}')

CASES = [
    # Published SigV4 test-suite signatures: botocore and the frozen clock are wired right.
    case("suite get-vanilla", **SUITE,
         expect="AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                "SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    case("suite post-x-www-form-urlencoded", **SUITE, method="POST",
         headers=[("Content-Type", "application/x-www-form-urlencoded")], payload=b"Param1=value1",
         expect="AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date, "
                "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    case("suite get-vanilla-with-session-token", **SUITE,
         token="6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
         expect="AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),

    # Cloud Control (JSON 1.0).
    cloudcontrol("cloudcontrol CreateResource", "CreateResource", CREATE),
    cloudcontrol("cloudcontrol CreateResource, session token", "CreateResource", CREATE, token=TOKEN),
    cloudcontrol("cloudcontrol GetResourceRequestStatus", "GetResourceRequestStatus",
                 '{"RequestToken":"5f3b0f2e-1111-2222-3333-444455556666"}', token=TOKEN,
                 when=1767225599),
    cloudcontrol("cloudcontrol UpdateResource, unicode in the body", "UpdateResource",
                 '{"Identifier":"/flotilla/state","PatchDocument":"[{\\"op\\":\\"replace\\",'
                 '\\"path\\":\\"/Value\\",\\"value\\":\\"caf\u00e9 \u1234\\"}]",'
                 '"TypeName":"AWS::SSM::Parameter"}'),
    case("cloudcontrol on a loopback stand-in", method="POST", scheme="http", host="127.0.0.1:4566",
         service="cloudcontrolapi", headers=list(CC_JSON.items()) +
         [("X-Amz-Target", "CloudApiService.DeleteResource")],
         payload=b'{"Identifier":"q","TypeName":"AWS::SQS::Queue"}', token=TOKEN),

    # Organizations (JSON 1.1).
    case("organizations CreateAccount", method="POST", host="organizations.us-east-1.amazonaws.com",
         service="organizations",
         headers=[("Content-Type", "application/x-amz-json-1.1"),
                  ("X-Amz-Target", "AWSOrganizationsV20161128.CreateAccount")],
         payload=b'{"AccountName":"acme","Email":"aws+acme@example.com"}', token=TOKEN),

    # STS (Query protocol, form POST and GET).
    sts("sts AssumeRole", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
        "123456789012%3Arole%2Fflotilla-deploy&RoleSessionName=flotilla-acme&ExternalId=x%20y"),
    sts("sts AssumeRole, session token, regional", "Action=AssumeRole&Version=2011-06-15",
        token=TOKEN, host="sts.eu-central-1.amazonaws.com", region="eu-central-1"),
    sts("sts GetCallerIdentity", "Action=GetCallerIdentity&Version=2011-06-15", token=TOKEN),
    case("sts GetCallerIdentity as GET", host="sts.amazonaws.com", service="sts",
         query=[("Version", "2011-06-15"), ("Action", "GetCallerIdentity")], token=TOKEN),

    # Query strings.
    case("query: reserved and unicode characters", host="example.amazonaws.com", service="service",
         query=[("b", "a b"), ("a", "x+y=z&w"), ("c", "\u00fc\u1234"), ("d", "~-._"), ("e", ""),
                ("f", "/slash?"), ("g", "%25"), ("h h", "*'()!")]),
    case("query: repeated names, upper and lower case", host="example.amazonaws.com",
         service="service", query=[("b", "2"), ("a", "z"), ("a", "y"), ("B", "1"), ("a", "")]),

    # Paths (encoded as sent; botocore normalises and encodes them again).
    *[case("path " + p, host="example.amazonaws.com", service="service", path=p) for p in (
        "/a%20b/c", "/resource/AWS%3A%3ASSM%3A%3AParameter", "/a/./b/../c//", "//", "/..",
        "/~user/x-y_z.txt", "/\u00e9/\u1234", "/a+b=c;d,e:f@g!h$i'j(k)l*m", "/example space/",
        "/a/b/../../../c/")],

    # Header values: blanks trimmed and folded, names in any case, a repeated name.
    case("headers: blanks, case, repeats", method="POST", host="example.amazonaws.com",
         service="service",
         headers=[("X-Custom", "  lots   of\tspace  "), ("x-other", "\t1 \t 2"),
                  ("X-CUSTOM", "second"), ("Content-Type", "text/plain")],
         payload=b"hello"),

    # x-amz-content-sha256 outside S3 (botocore is handed the hash as a header).
    case("content-sha256, JSON POST", method="POST", host="example.amazonaws.com",
         service="service", headers=[("Content-Type", "application/json")], payload=b"{}",
         content_sha256=True, token=TOKEN),

    # S3: the path as sent, x-amz-content-sha256 of the payload.
    case("s3 GET, encoded key", host="examplebucket.s3.amazonaws.com", service="s3", s3=True,
         path="/key%20with%20space/and%2Bplus", headers=[("Range", "bytes=0-9")]),
    case("s3 GET, dots and slashes kept", host="examplebucket.s3.amazonaws.com", service="s3",
         s3=True, path="/a//b/../c/./d", query=[("list-type", "2"), ("prefix", "x y/")]),
    case("s3 PUT, binary payload", method="PUT", host="examplebucket.s3.amazonaws.com",
         service="s3", s3=True, path="/blob.bin", payload=blob(300 * 1024), token=TOKEN,
         headers=[("Content-Type", "application/octet-stream")]),

    # Times.
    case("the epoch", host="example.amazonaws.com", service="service", when=0),
    case("a leap day after 2038", host="example.amazonaws.com", service="service",
         when=2214172799),
    case("a megabyte of binary payload", method="POST", host="example.amazonaws.com",
         service="service", payload=blob(1 << 20), when=1700000000),
]


def freeze(epoch):
    """Makes botocore's signers read the given time from the clock."""
    frozen = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return frozen

        @classmethod
        def now(cls, tz=None):
            return frozen.replace(tzinfo=datetime.timezone.utc).astimezone(tz) if tz else frozen

    fake = types.ModuleType("datetime")
    fake.__dict__.update(datetime.__dict__)
    fake.datetime = Frozen
    auth.datetime = fake
    if hasattr(auth, "get_current_datetime"):  # newer botocore
        auth.get_current_datetime = lambda *a, **k: frozen


def sign_botocore(c):
    url = "%s://%s%s" % (c["scheme"], c["host"], c["path"])
    req = AWSRequest(method=c["method"], url=url, data=c["payload"], params=list(c["query"]))
    for name, value in c["headers"]:
        req.headers[name] = value  # HTTPHeaders keeps repeated names
    if c["content_sha256"] and not c["s3"]:
        req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(c["payload"]).hexdigest()
    signer_class = auth.S3SigV4Auth if c["s3"] else auth.SigV4Auth
    signer = signer_class(Credentials(c["key"], c["secret"], c["token"]), c["service"], c["region"])
    freeze(c["when"])
    signer.add_auth(req)
    got = {"Authorization": req.headers["Authorization"], "X-Amz-Date": req.headers["X-Amz-Date"]}
    if c["token"]:
        got["X-Amz-Security-Token"] = req.headers["X-Amz-Security-Token"]
    if c["s3"] or c["content_sha256"]:
        got["x-amz-content-sha256"] = req.headers["X-Amz-Content-SHA256"]
    return got, signer.canonical_query_string(req)


def sign_c(c):
    argv = [SIGN, "--method", c["method"], "--host", c["host"], "--path", c["path"],
            "--region", c["region"], "--service", c["service"], "--when", str(c["when"]),
            "--key", c["key"], "--secret", c["secret"]]
    if c["token"]:
        argv += ["--token", c["token"]]
    if c["s3"]:
        argv.append("--s3")
    elif c["content_sha256"]:
        argv.append("--content-sha256")
    for name, value in c["query"]:
        argv += ["--query", name, value]
    for name, value in c["headers"]:
        argv += ["--header", name, value]
    p = subprocess.run(argv, input=c["payload"], capture_output=True, check=False)
    if p.returncode != 0:
        raise RuntimeError("sigv4_sign exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    headers, query = {}, None
    for line in p.stdout.decode().split("\n")[:-1]:
        name, _, value = line.partition(": ")
        if name == "Query":
            query = value
        else:
            headers[name] = value
    return headers, query


def main():
    print("botocore %s from %s" % (botocore.__version__, botocore.__file__))
    failures = 0
    for c in CASES:
        want, want_query = sign_botocore(c)
        got, got_query = sign_c(c)
        problems = []
        if c["expect"] and want["Authorization"] != c["expect"]:
            problems.append("botocore's Authorization is not the published one:\n  %s\n  %s"
                            % (want["Authorization"], c["expect"]))
        for name in sorted(set(want) | set(got)):
            if want.get(name) != got.get(name):
                problems.append("%s differs:\n  botocore: %s\n  flotilla: %s"
                                % (name, want.get(name), got.get(name)))
        if got_query != want_query:
            problems.append("query string differs:\n  botocore: %s\n  flotilla: %s"
                            % (want_query, got_query))
        print("%s: %s" % ("FAIL" if problems else "ok", c["name"]))
        for p in problems:
            print("  " + p)
        failures += bool(problems)
    print("%d of %d requests signed alike" % (len(CASES) - failures, len(CASES)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
