#!/usr/bin/env python3
"""A strict local stand-in for the three AWS services the aws driver calls
(SPEC 8a): STS, Cloud Control API and Organizations, on one port, in Python
3 stdlib plus botocore (python3-botocore: its signer verifies signatures and
its service models validate members). Proved against the real client by
tests/e2e/aws_standin_cli.sh.

It listens on 127.0.0.1 on a port the OS picks, prints "PORT <n>" as its
first line of standard output, and exits when standard input closes (so a
test that dies takes it along) or on SIGTERM. HTTP/1.1, keep-alive,
Content-Length always set. A python3 without botocore re-executes the script
with /usr/bin/python3 when that one has it.

Usage: aws_standin.py [--log FILE] [--config JSON]
  --log FILE     also append every acted-on operation (see GET /_log) to FILE
  --config JSON  initial configuration, merged as POST /_config would

Routes (all AWS requests are POST / and dispatched like real endpoints):
  X-Amz-Target CloudApiService.<Op>          Cloud Control, JSON 1.0
      (Content-Type application/x-amz-json-1.0; SigV4 service cloudcontrolapi,
      any region: resources live per (account, region))
  X-Amz-Target AWSOrganizationsV20161128.<Op> Organizations, JSON 1.1
      (Content-Type application/x-amz-json-1.1; SigV4 service organizations,
      region us-east-1 only)
  no X-Amz-Target, Content-Type application/x-www-form-urlencoded
                                             STS, Query (Action, Version=2011-06-15
      in the form body; SigV4 service sts, any region). Answers XML.
  GET /_state, GET /_log, POST /_config      test hooks (below)
  anything else: 404.

Order of checks for every AWS request: throttling, route (unknown target:
UnknownOperationException; wrong Content-Type: SerializationException /
STS InvalidParameterValue), SigV4, members, then the operation. latency_ms
delays every AWS answer (not the hooks'). Responses carry x-amzn-RequestId.

SigV4 (every request but AssumeRoleWithWebIdentity, which is unsigned):
  Authorization "AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/
  aws4_request, SignedHeaders=..., Signature=..." recomputed with botocore's
  SigV4Auth over the request as received (method, path, query, exactly the
  signed headers, body). host and x-amz-date must be signed; a session token
  (X-Amz-Security-Token) is required for temporary (ASIA) keys and must be
  signed; a long-term key with a token is refused. x-amz-content-sha256, if
  sent, must be the body's hash. Errors (STS code, HTTP | JSON code, HTTP):
    no Authorization        MissingAuthenticationToken 403 | MissingAuthenticationTokenException 403
    malformed / no date / scope date != X-Amz-Date date / host or date unsigned
                            IncompleteSignature 400 | IncompleteSignatureException 400
    unknown key, wrong or missing token for the key, token on a long-term key
                            InvalidClientTokenId 403 | UnrecognizedClientException 400
    wrong service / region in scope, signature mismatch, token unsigned,
    X-Amz-Date more than 15 min off ("Signature expired: ..." / "Signature
    not yet current: ...")  SignatureDoesNotMatch 403 | InvalidSignatureException 403
    temporary key past its expiry
                            ExpiredToken 400 | ExpiredTokenException 400
  Known keys: config base_keys (long-term) and every temporary key issued.

Members (every operation), against botocore's model of the operation's input:
  required present, no unknown member, types, min/max length, min/max value,
  enums, patterns (full match). Errors:
    Cloud Control  ValidationException "1 validation error detected: Value
                   'x' at 'clientToken' failed to satisfy constraint: Member
                   must have length less than or equal to 128" (several: "N
                   validation errors detected: ...; ..."; a missing member:
                   "Value null at 'desiredState' ... Member must not be null";
                   sensitive members: no value quoted); wrong JSON type,
                   unknown member, body not a JSON object: SerializationException
    Organizations  InvalidInputException {Message, Reason: INPUT_REQUIRED,
                   INVALID_PATTERN, MAX_LENGTH_EXCEEDED, MIN_LENGTH_EXCEEDED,
                   INVALID_ENUM, MAX_VALUE_EXCEEDED, MIN_VALUE_EXCEEDED};
                   wrong JSON type, unknown member: SerializationException
    STS            missing: MissingParameter "The request must contain the
                   parameter X"; anything else: ValidationError (message as
                   Cloud Control's), both 400
  JSON errors are HTTP 400 (unless said otherwise) with body {"__type":
  "<Name>", "Message": ...}; Cloud Control's __type is
  "com.amazonaws.cloudcontrol#<Name>" (clients strip up to '#', as botocore
  does). STS errors: <ErrorResponse><Error><Type>Sender</Type><Code>..
  </Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>.
  Throttling (config throttle_every): STS Throttling 400 "Rate exceeded",
  Cloud Control ThrottlingException 400, Organizations
  TooManyRequestsException 400 (what each real service sends).

STS:
  AssumeRoleWithWebIdentity  unsigned; WebIdentityToken must equal web_token
      (else InvalidIdentityToken 400); credentials in the RoleArn's account.
  AssumeRole  signed; RoleArn must be arn:aws:iam::<12 digits>:role/<name>
      (else ValidationError); a role in denied_roles: AccessDenied 403; a
      role in role_external_ids needs exactly that ExternalId (missing or
      different: AccessDenied 403 "User: <caller arn> is not authorized to
      perform: sts:AssumeRole on resource: <role arn>"); DurationSeconds
      (900..43200 by the model, default 3600) above max_session_duration:
      ValidationError "The requested DurationSeconds exceeds the
      MaxSessionDuration set for this role."; above 3600 when the caller is
      itself a role session: ValidationError "... 1 hour session limit for
      roles assumed by role chaining.". Issues ASIA... credentials in the
      role's account, or in wrong_account[role's account] when set.
      AssumedRoleUser Arn arn:aws:sts::<acct>:assumed-role/<role>/<session>.
  GetCallerIdentity  signed; Account, Arn (base keys: arn:aws:iam::<acct>:
      user/<user>; role sessions: the assumed-role arn), UserId (AIDA...
      for users, AROA...:<session> for role sessions).
  Temporary credentials expire after DurationSeconds, or as config
  expiration says: a number of seconds after issue, or an ISO 8601 instant.

Cloud Control (resources per (caller's account, signing region)):
  Types (primary identifier; required; read-only properties added on create):
    AWS::SSM::Parameter  Name (generated "CFN-standin-<hex>" when absent);
                         Type (String|StringList), Value required; Value at
                         most 4096 chars for Tier Standard or absent, 8192
                         Advanced (else FAILED InvalidRequest); no read-only
    AWS::Logs::LogGroup  LogGroupName (generated when absent); Arn
                         arn:aws:logs:<region>:<acct>:log-group:<name>:*
    AWS::S3::Bucket      BucketName (generated when absent; names are global
                         across accounts and regions: AlreadyExists); Arn,
                         DomainName, RegionalDomainName, DualStackDomainName,
                         WebsiteURL
    AWS::SQS::Queue      QueueUrl, GENERATED: http://sqs.<region>.localhost/
                         <account>/<QueueName>; QueueName required; Arn
                         arn:aws:sqs:<region>:<acct>:<QueueName>, plus the
                         defaults the real service reports (DelaySeconds 0,
                         MaximumMessageSize 262144, MessageRetentionPeriod
                         345600, ReceiveMessageWaitTimeSeconds 0,
                         VisibilityTimeout 30, SqsManagedSseEnabled true)
    other types: TypeNotFoundException. Properties are checked like the
    resource schema (additionalProperties false): DesiredState not a JSON
    object, an unknown or read-only property, a missing required one, a
    wrong JSON type or enum value: ValidationException "Model validation
    failed (#: ...)".
  CreateResource/UpdateResource/DeleteResource answer {"ProgressEvent":
    {TypeName, Identifier (when known: not for a generated one), RequestToken
    (uuid), Operation CREATE|UPDATE|DELETE, OperationStatus IN_PROGRESS,
    EventTime (epoch seconds, a JSON number with a fraction, as the real
    service sends)}}.
  GetResourceRequestStatus: IN_PROGRESS for the first polls-1 calls, then the
    change happens (not before: a request only advances when its own token
    is polled; polls is read when the request starts) and it answers
    SUCCESS (with Identifier and,
    for create/update, ResourceModel) or FAILED with ErrorCode and
    StatusMessage: create of an existing identifier AlreadyExists;
    update/delete of a missing one NotFound; a patch operation that fails
    (remove/replace of a missing path, failed test, bad index) InvalidRequest;
    fail_create. Unknown token (or another account's/region's):
    RequestTokenNotFoundException.
  UpdateResource: PatchDocument an RFC 6902 JSON array (add, remove,
    replace, move, copy, test; paths are /<Property>/...); not a valid patch:
    ValidationException; a path on the primary identifier or another
    create-only property, or on a read-only property (test excepted):
    NotUpdatableException "Invalid patch update: createOnlyProperties
    [/properties/Name] cannot be updated" (readOnlyProperties likewise),
    synchronous; the patched model is validated like a DesiredState.
  GetResource: {TypeName, ResourceDescription: {Identifier, Properties (JSON
    string, read-only properties included)}}; missing: ResourceNotFoundException.
  ListResources: {TypeName, ResourceDescriptions: [...]} (MaxResults, NextToken).
  ClientToken: the same token (per account and region) with the same
    operation and parameters answers the same request (same RequestToken,
    its current status) and does nothing again; with anything different:
    ClientTokenConflictException.
  A create/update/delete of a resource with a request IN_PROGRESS:
    ConcurrentOperationException "Another Operation on resource [<id>] is in
    progress".

Organizations (caller must be in management_account, else
AccessDeniedException; organization o-standin0001, root r-st4n, OUs in
config ous):
  CreateAccount (Email, AccountName) -> CreateAccountStatus {Id car-<32 hex>,
    AccountName, State IN_PROGRESS, RequestedTimestamp}.
  DescribeCreateAccountStatus (CreateAccountRequestId): IN_PROGRESS for the
    first polls-1 calls, then SUCCEEDED with AccountId (12 digits, from
    900000000001 up) and CompletedTimestamp, or FAILED with FailureReason
    EMAIL_ALREADY_EXISTS (an account of the organization has that email).
    Unknown id: CreateAccountStatusNotFoundException.
  ListRoots -> Roots [{Id r-st4n, Arn, Name Root, PolicyTypes []}].
  MoveAccount (AccountId, SourceParentId, DestinationParentId): unknown
    account AccountNotFoundException; unknown source parent
    SourceParentNotFoundException; unknown destination
    DestinationParentNotFoundException; account not under the source
    AccountNotFoundException; source == destination DuplicateAccountException.
  CloseAccount (AccountId): unknown AccountNotFoundException; the management
    account ConstraintViolationException; closed already
    AccountAlreadyClosedException; else Status SUSPENDED.
  DescribeAccount (AccountId) -> Account {Id, Arn, Email, Name, Status,
    JoinedMethod, JoinedTimestamp}.

Test hooks (not AWS):
  GET  /_state   {"config": ..., "accounts": {acct: {region: {type:
                 {identifier: properties}}}}, "counts": {"<service>.<Op>": n},
                 "organization": {"accounts": {id: {Name, Email, Status,
                 Parent}}}, "requests_in_progress": n}
  GET  /_log     the acted-on operations, one JSON object a line: {"op":
                 "CreateResource"|"UpdateResource"|"DeleteResource"|
                 "CreateAccount"|"MoveAccount"|"CloseAccount", "account",
                 "region", "type", "identifier", "client_token",
                 "request_token", "time"} (Organizations lines: type
                 "AWS::Organizations::Account", identifier the account id,
                 region us-east-1, client_token null). A replayed ClientToken
                 or a FAILED request adds no line.
  POST /_config  JSON object whose keys replace those of the configuration:
    latency_ms        delay before every answer (default 0)
    polls             status polls until an operation completes (default 2)
    throttle_every    every Nth AWS request is throttled (0: never, default)
    wrong_account     {"<role account>": "<landing account>"}: credentials
                      for roles of that account land in the other
    wrong_account_from {"<role account>": n}: wrong_account applies only from
                      the nth role assumed into that account on (the first
                      n-1 land where they should)
    role_external_ids {"<role arn>": "<external id>"}
    denied_roles      ["<role arn>", ...]: AssumeRole refused
    max_session_duration  largest DurationSeconds a role allows (3600)
    web_token         the WebIdentityToken AssumeRoleWithWebIdentity accepts
    base_keys         {"<access key id>": {"secret", "account", "user"}},
                      default AKIDSTANDINBASE / "standin-base-secret" in
                      111111111111, user standin
    expiration        null (DurationSeconds), seconds after issue, or ISO 8601
    retry_after_ms    null (default): events carry no RetryAfter; a number:
                      an IN_PROGRESS event says to ask again that many ms later
    fail_create       {"<type>/<identifier or desired name>": "ErrorCode:
                      message"}: that create ends FAILED so
    management_account  the Organizations management account (111111111111)
    ous               OU ids MoveAccount accepts
"""

import argparse
import copy
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import botocore.loaders
    import botocore.model
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and not os.environ.get("AWS_STANDIN_REEXEC"):
        os.environ["AWS_STANDIN_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.stderr.write("aws_standin.py needs botocore: install python3-botocore (ci/setup.sh)\n")
    sys.exit(2)

# ---------------------------------------------------------------- state

CONFIG = {
    "latency_ms": 0,
    "polls": 2,
    "throttle_every": 0,
    "wrong_account": {},
    "role_external_ids": {},
    "denied_roles": [],
    "max_session_duration": 3600,
    "web_token": "web-identity-token-0123456789",
    "base_keys": {"AKIDSTANDINBASE": {"secret": "standin-base-secret", "account": "111111111111",
                                      "user": "standin"}},
    "expiration": None,
    "fail_create": {},
    "retry_after_ms": None,
    "wrong_account_from": {},
    "management_account": "111111111111",
    "ous": ["ou-st4n-aaaaaaaa", "ou-st4n-bbbbbbbb"],
}
LOCK = threading.RLock()
STATE = {
    "requests": 0,           # AWS requests seen, for throttle_every
    "counts": {},
    "assumed": {},           # role account -> roles assumed into it, for wrong_account_from
    "temp_keys": {},         # ASIA key -> {secret, token, account, arn, user_id, expires, role_session}
    "resources": {},         # (account, region, type, identifier) -> properties
    "buckets": set(),        # S3 bucket names are global
    "cc_requests": {},       # request token -> record
    "cc_client_tokens": {},  # (account, region, client token) -> request token
    "org_accounts": {},      # id -> {Name, Email, Status, Parent, JoinedMethod, JoinedTimestamp}
    "car": {},               # create account request id -> record
    "next_account": 900000000001,
    "log": [],
}
LOG_FILE = None

ORG_ID = "o-standin0001"
ROOT_ID = "r-st4n"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
CC_TYPE_PREFIX = "com.amazonaws.cloudcontrol#"


def now():
    return time.time()


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def count(name):
    with LOCK:
        STATE["counts"][name] = STATE["counts"].get(name, 0) + 1


def act(op, account, region, rtype, identifier, client_token, request_token):
    """Records an operation the service carried out (GET /_log)."""
    line = json.dumps({"op": op, "account": account, "region": region, "type": rtype,
                       "identifier": identifier, "client_token": client_token,
                       "request_token": request_token, "time": iso(now())}, sort_keys=True)
    STATE["log"].append(line)
    if LOG_FILE:
        with open(LOG_FILE, "a") as f:
            f.write(line + "\n")


class AwsError(Exception):
    """An error answer; code is the protocol-neutral name, rendered per service."""

    def __init__(self, code, message, status=400, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra


# ---------------------------------------------------------------- botocore models

LOADER = botocore.loaders.Loader()
MODELS = {}


def model(service):
    with LOCK:
        if service not in MODELS:
            MODELS[service] = botocore.model.ServiceModel(LOADER.load_service_model(service, "service-2"), service)
        return MODELS[service]


# ---------------------------------------------------------------- member validation

PATTERNS = {}


def compiled(pattern):
    if pattern not in PATTERNS:
        try:
            PATTERNS[pattern] = re.compile(pattern, re.ASCII)
        except re.error:
            PATTERNS[pattern] = None
    return PATTERNS[pattern]


def camel(name):
    return name[:1].lower() + name[1:]


class Violation:
    """One broken constraint: reason is Organizations' InvalidInputException reason."""

    def __init__(self, path, value, constraint, reason, sensitive=False):
        self.path, self.value, self.constraint, self.reason, self.sensitive = path, value, constraint, reason, sensitive

    def text(self):
        if self.value is None:
            shown = "Value null"
        elif self.sensitive:
            shown = "Value"
        else:
            shown = "Value '%s'" % (self.value,)
        return "%s at '%s' failed to satisfy constraint: %s" % (shown, self.path, self.constraint)


class Malformed(Exception):
    """The input does not even have the model's shape (type, unknown member)."""


def check_members(shape, value, path, out, query):
    """Appends a Violation to out for every constraint value breaks; raises
    Malformed for wrong types and unknown members. query: the value came from
    a Query form (scalars are strings there)."""
    meta = shape.metadata
    sensitive = bool(meta.get("sensitive"))
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise Malformed("Expected a structure at '%s'" % path)
        for name in value:
            if name not in shape.members:
                raise Malformed("Unknown member '%s'%s" % (name, " in '%s'" % path if path else ""))
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(Violation(join(path, name), None, "Member must not be null", "INPUT_REQUIRED"))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                check_members(member, value[name], join(path, name), out, query)
        return
    if kind == "list":
        if not isinstance(value, list):
            raise Malformed("Expected a list at '%s'" % path)
        check_length(meta, len(value), value, path, out, sensitive)
        for i, item in enumerate(value):
            check_members(shape.member, item, "%s.%d.member" % (path, i + 1), out, query)
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise Malformed("Expected a map at '%s'" % path)
        check_length(meta, len(value), value, path, out, sensitive)
        for k, v in value.items():
            check_members(shape.key, k, path + ".key", out, query)
            check_members(shape.value, v, path + ".value", out, query)
        return
    if kind in ("integer", "long"):
        if query:
            if not re.fullmatch(r"-?\d+", value):
                raise Malformed("Value '%s' at '%s' is not an integer" % (value, path))
            value = int(value)
        elif not isinstance(value, int) or isinstance(value, bool):
            raise Malformed("%s can not be converted to an Integer at '%s'" % (json.dumps(value), path))
        if "min" in meta and value < meta["min"]:
            out.append(Violation(path, value, "Member must have value greater than or equal to %d" % meta["min"],
                                 "MIN_VALUE_EXCEEDED", sensitive))
        if "max" in meta and value > meta["max"]:
            out.append(Violation(path, value, "Member must have value less than or equal to %d" % meta["max"],
                                 "MAX_VALUE_EXCEEDED", sensitive))
        return
    if kind == "boolean":
        ok = value in ("true", "false") if query else isinstance(value, bool)
        if not ok:
            raise Malformed("Value %s at '%s' is not a boolean" % (json.dumps(value), path))
        return
    if kind == "timestamp":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise Malformed("Value at '%s' is not a timestamp" % path)
        return
    if not isinstance(value, str):  # string, blob
        raise Malformed("%s can not be converted to a String at '%s'" % (json.dumps(value), path))
    check_length(meta, len(value), value, path, out, sensitive)
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        out.append(Violation(path, value, "Member must satisfy enum value set: [%s]" % ", ".join(enum),
                             "INVALID_ENUM", sensitive))
    pattern = meta.get("pattern")
    rx = compiled(pattern) if pattern else None
    if rx is not None and not rx.fullmatch(value):
        out.append(Violation(path, value, "Member must satisfy regular expression pattern: %s" % pattern,
                             "INVALID_PATTERN", sensitive))


def join(path, name):
    return "%s.%s" % (path, camel(name)) if path else camel(name)


def check_length(meta, n, value, path, out, sensitive):
    shown = value if isinstance(value, str) else None
    if "min" in meta and n < meta["min"]:
        out.append(Violation(path, shown if shown is not None else n,
                             "Member must have length greater than or equal to %d" % meta["min"],
                             "MIN_LENGTH_EXCEEDED", sensitive))
    if "max" in meta and n > meta["max"]:
        out.append(Violation(path, shown if shown is not None else n,
                             "Member must have length less than or equal to %d" % meta["max"],
                             "MAX_LENGTH_EXCEEDED", sensitive))


def validation_text(violations):
    n = len(violations)
    return "%d validation error%s detected: %s" % (n, "" if n == 1 else "s",
                                                   "; ".join(v.text() for v in violations))


def query_to_params(shape, form):
    """The Query form's flat names (Tags.member.1.Key) as the model's structure."""
    tree = {}
    for key, value in form.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise Malformed("Unknown parameter %s" % key)
        if parts[-1] in node:
            raise Malformed("Unknown parameter %s" % key)
        node[parts[-1]] = value
    return unflatten(shape, tree, "")


def unflatten(shape, node, where):
    if shape.type_name == "structure":
        if not isinstance(node, dict):
            raise Malformed("Parameter %s must be a structure" % where)
        return {k: (unflatten(shape.members[k], v, k) if k in shape.members else v) for k, v in node.items()}
    if shape.type_name == "list":
        if not isinstance(node, dict) or set(node) != {"member"} or not isinstance(node["member"], dict):
            raise Malformed("Parameter %s must be a list (%s.member.N)" % (where, where))
        items = node["member"]
        if sorted(items, key=lambda s: int(s) if s.isdigit() else -1) != [str(i) for i in range(1, len(items) + 1)]:
            raise Malformed("Parameter %s.member indexes must count from 1" % where)
        return [unflatten(shape.member, items[str(i)], where) for i in range(1, len(items) + 1)]
    if isinstance(node, dict):
        raise Malformed("Parameter %s must be a scalar" % where)
    return node


def validate(service, operation, params, query=False):
    """Raises the service's error for params breaking the operation's input model."""
    shape = model(service).operation_model(operation).input_shape
    out = []
    try:
        if shape is None:
            if params:
                raise Malformed("Unknown member '%s'" % sorted(params)[0])
            return params
        if query:
            params = query_to_params(shape, params)
        check_members(shape, params, "", out, query)
    except Malformed as e:
        if service == "sts":
            raise AwsError("ValidationError", str(e))
        raise AwsError("SerializationException", str(e))
    if not out:
        return params
    if service == "sts":
        missing = [v for v in out if v.reason == "INPUT_REQUIRED"]
        if missing:
            name = missing[0].path[:1].upper() + missing[0].path[1:]
            raise AwsError("MissingParameter", "The request must contain the parameter %s" % name)
        raise AwsError("ValidationError", validation_text(out))
    if service == "organizations":
        v = out[0]
        raise AwsError("InvalidInputException", ORG_REASONS[v.reason] + " (%s)" % v.path, Reason=v.reason)
    raise AwsError("ValidationException", validation_text(out))


ORG_REASONS = {
    "INPUT_REQUIRED": "You must include a value for all required parameters.",
    "INVALID_PATTERN": "You provided a value that doesn't match the required pattern.",
    "MAX_LENGTH_EXCEEDED": "You provided a string parameter that is longer than allowed.",
    "MIN_LENGTH_EXCEEDED": "You provided a string parameter that is shorter than allowed.",
    "INVALID_ENUM": "You specified an invalid value.",
    "MAX_VALUE_EXCEEDED": "You provided a numeric parameter that has a larger value than allowed.",
    "MIN_VALUE_EXCEEDED": "You provided a numeric parameter that has a smaller value than allowed.",
}

# ---------------------------------------------------------------- SigV4 verification

AUTH_RX = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})")
SKEW = 15 * 60

# Per protocol: (code, HTTP status) for each kind of authentication failure.
AUTH_CODES = {
    "query": {"missing": ("MissingAuthenticationToken", 403), "incomplete": ("IncompleteSignature", 400),
              "unknown": ("InvalidClientTokenId", 403), "mismatch": ("SignatureDoesNotMatch", 403),
              "expired": ("ExpiredToken", 400)},
    "json": {"missing": ("MissingAuthenticationTokenException", 403),
             "incomplete": ("IncompleteSignatureException", 400),
             "unknown": ("UnrecognizedClientException", 400), "mismatch": ("InvalidSignatureException", 403),
             "expired": ("ExpiredTokenException", 400)},
}


class AuthFailure(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Verifier(botocore.auth.SigV4Auth):
    """botocore's signer, told which headers the client signed (botocore's own
    choice leaves some out, a client may sign more)."""

    def __init__(self, credentials, service, region, signed):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        header_map = botocore.awsrequest.HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                header_map[name] = value
        return header_map


def principal_for(access_key, token):
    """The identity behind a key (None if unknown); raises AuthFailure for tokens."""
    with LOCK:
        base = CONFIG["base_keys"].get(access_key)
        if base is not None:
            if token is not None:
                raise AuthFailure("unknown", "The security token included in the request is invalid.")
            account = base["account"]
            user = base.get("user", "standin")
            uid = "AIDA" + hashlib.sha1(access_key.encode()).hexdigest()[:17].upper()
            return {"secret": base["secret"], "account": account, "arn": "arn:aws:iam::%s:user/%s" % (account, user),
                    "user_id": uid, "role_session": False, "access_key": access_key}
        temp = STATE["temp_keys"].get(access_key)
    if temp is None:
        return None
    if token is None or not hmac.compare_digest(token, temp["token"]):
        raise AuthFailure("unknown", "The security token included in the request is invalid.")
    if now() >= temp["expires"]:
        raise AuthFailure("expired", "The security token included in the request is expired")
    return dict(temp, access_key=access_key)


def verify_sigv4(headers, method, raw_path, body, service, region_required):
    """Checks the request's signature; returns (principal, signing region)."""
    auth = headers.get("Authorization")
    if not auth:
        raise AuthFailure("missing", "Request is missing Authentication Token")
    m = AUTH_RX.fullmatch(auth.strip())
    if not m:
        raise AuthFailure("incomplete", "Authorization header requires 'Credential', 'Signature' and "
                                        "'SignedHeaders' parameters. Authorization=%s" % auth.split(" ")[0])
    access_key, scope_date, region, scope_service, signed_list, signature = m.groups()
    signed = signed_list.split(";")
    amz_date = headers.get("X-Amz-Date")
    if not amz_date:
        raise AuthFailure("incomplete", "Authorization header requires existence of either a 'X-Amz-Date' "
                                        "or a 'Date' header. Authorization=AWS4-HMAC-SHA256")
    try:
        stamp = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AuthFailure("incomplete", "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'")
    if scope_date != amz_date[:8]:
        raise AuthFailure("incomplete", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                                        "of date from HTTP: '%s' != '%s', from '%s'."
                          % (scope_date, amz_date[:8], amz_date))
    for needed in ("host", "x-amz-date"):
        if needed not in signed:
            raise AuthFailure("incomplete", "'%s' must be a 'SignedHeader' in the AWS Authorization."
                              % ("Host" if needed == "host" else "X-Amz-Date"))
    for name in signed:
        if headers.get(name) is None:
            raise AuthFailure("mismatch", "The request signature we calculated does not match the signature you "
                                          "provided: signed header '%s' is not in the request." % name)
    token = headers.get("X-Amz-Security-Token")
    principal = principal_for(access_key, token)
    if principal is None:
        raise AuthFailure("unknown", "The security token included in the request is invalid.")
    if access_key.startswith("ASIA") and "x-amz-security-token" not in signed:
        raise AuthFailure("mismatch", "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
    if scope_service != service:
        raise AuthFailure("mismatch", "Credential should be scoped to correct service: '%s'. " % service)
    if (region_required and region != region_required) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise AuthFailure("mismatch", "Credential should be scoped to a valid region, not '%s'. " % region)
    skew = (stamp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    fmt = "%Y%m%dT%H%M%SZ"
    utcnow = datetime.datetime.now(datetime.timezone.utc)
    if skew < -SKEW:
        raise AuthFailure("mismatch", "Signature expired: %s is now earlier than %s (%s - 15 min.)"
                          % (amz_date, (utcnow - datetime.timedelta(seconds=SKEW)).strftime(fmt), utcnow.strftime(fmt)))
    if skew > SKEW:
        raise AuthFailure("mismatch", "Signature not yet current: %s is still later than %s (%s + 15 min.)"
                          % (amz_date, (utcnow + datetime.timedelta(seconds=SKEW)).strftime(fmt), utcnow.strftime(fmt)))
    content_sha = headers.get("X-Amz-Content-SHA256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise AuthFailure("mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")

    request = botocore.awsrequest.AWSRequest(method=method, url="http://%s%s" % (headers.get("Host"), raw_path),
                                             data=body)
    for name in signed:
        for value in headers.get_all(name):
            request.headers[name] = value
    request.context["timestamp"] = amz_date
    creds = botocore.credentials.Credentials(access_key, principal["secret"], token)
    verifier = _Verifier(creds, service, region, signed)
    canonical = verifier.canonical_request(request)
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    if verifier.signed_headers(verifier.headers_to_sign(request)) != signed_list or \
            not hmac.compare_digest(expected, signature):
        raise AuthFailure("mismatch", "The request signature we calculated does not match the signature you "
                                      "provided. Check your AWS Secret Access Key and signing method. Consult the "
                                      "service documentation for details.")
    return principal, region


def authenticate(handler, body, protocol, service, region_required=None):
    try:
        return verify_sigv4(handler.headers, handler.command, handler.path, body, service, region_required)
    except AuthFailure as e:
        code, status = AUTH_CODES[protocol][e.kind]
        raise AwsError(code, e.message, status)


# ---------------------------------------------------------------- STS

def xml_escape(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sts_error_body(code, message):
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>Sender</Type>\n    <Code>%s</Code>\n'
            '    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
            % (STS_NS, code, xml_escape(message), uuid.uuid4()))


def sts_answer(action, result):
    return ('<%sResponse xmlns="%s">\n  <%sResult>\n%s  </%sResult>\n  <ResponseMetadata>\n'
            '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</%sResponse>\n'
            % (action, STS_NS, action, result, action, uuid.uuid4(), action))


ROLE_ARN_RX = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})", re.ASCII)


def issue_credentials(account, role_arn, role_name, session, duration):
    access_key = "ASIA" + secrets.token_hex(8).upper()
    expiration = CONFIG["expiration"]
    issued = now()
    if expiration is None:
        expires = issued + duration
    elif isinstance(expiration, (int, float)):
        expires = issued + expiration
    else:
        expires = datetime.datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    role_id = "AROA" + hashlib.sha1(role_arn.encode()).hexdigest()[:17].upper()
    cred = {"secret": secrets.token_urlsafe(30), "token": "standin-session-" + secrets.token_urlsafe(48),
            "account": account, "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role_name, session),
            "user_id": "%s:%s" % (role_id, session), "expires": expires, "role_session": True}
    with LOCK:
        STATE["temp_keys"][access_key] = cred
    return access_key, cred


def credentials_xml(access_key, cred):
    return ("    <Credentials>\n      <AccessKeyId>%s</AccessKeyId>\n      <SecretAccessKey>%s</SecretAccessKey>\n"
            "      <SessionToken>%s</SessionToken>\n      <Expiration>%s</Expiration>\n    </Credentials>\n"
            "    <AssumedRoleUser>\n      <Arn>%s</Arn>\n      <AssumedRoleId>%s</AssumedRoleId>\n"
            "    </AssumedRoleUser>\n"
            % (access_key, xml_escape(cred["secret"]), xml_escape(cred["token"]), iso(cred["expires"]),
               xml_escape(cred["arn"]), xml_escape(cred["user_id"])))


def role_parts(arn):
    m = ROLE_ARN_RX.fullmatch(arn)
    if not m:
        raise AwsError("ValidationError", "%s is invalid" % arn)
    return m.group(1), m.group(2)


def landing_account(account):
    wrong = CONFIG["wrong_account"].get(account)
    start = CONFIG["wrong_account_from"].get(account)
    if wrong is None or start is None:
        return wrong or account
    with LOCK:
        n = STATE["assumed"][account] = STATE["assumed"].get(account, 0) + 1
    return wrong if n >= start else account


def sts_assume_role_with_web_identity(form, handler, body):
    params = validate("sts", "AssumeRoleWithWebIdentity", form, query=True)
    account, name = role_parts(params["RoleArn"])
    if params["WebIdentityToken"] != CONFIG["web_token"]:
        raise AwsError("InvalidIdentityToken", "Incorrect token audience.")
    if params["RoleArn"] in CONFIG["denied_roles"]:
        raise AwsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)
    duration = int(params.get("DurationSeconds", 3600))
    if duration > CONFIG["max_session_duration"]:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    key, cred = issue_credentials(landing_account(account), params["RoleArn"], name, params["RoleSessionName"], duration)
    return sts_answer("AssumeRoleWithWebIdentity",
                      "    <SubjectFromWebIdentityToken>standin-subject</SubjectFromWebIdentityToken>\n"
                      "    <Audience>sts.amazonaws.com</Audience>\n" + credentials_xml(key, cred) +
                      "    <Provider>token.actions.githubusercontent.com</Provider>\n")


def sts_assume_role(form, handler, body):
    caller, _ = authenticate(handler, body, "query", "sts")
    params = validate("sts", "AssumeRole", form, query=True)
    role = params["RoleArn"]
    account, name = role_parts(role)
    denied = AwsError("AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s"
                      % (caller["arn"], role), 403)
    if role in CONFIG["denied_roles"]:
        raise denied
    wanted = CONFIG["role_external_ids"].get(role)
    if wanted is not None and params.get("ExternalId") != wanted:
        raise denied
    duration = int(params.get("DurationSeconds", 3600))
    if caller["role_session"] and duration > 3600:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for "
                                          "roles assumed by role chaining.")
    if duration > CONFIG["max_session_duration"]:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    key, cred = issue_credentials(landing_account(account), role, name, params["RoleSessionName"], duration)
    return sts_answer("AssumeRole", credentials_xml(key, cred))


def sts_get_caller_identity(form, handler, body):
    caller, _ = authenticate(handler, body, "query", "sts")
    validate("sts", "GetCallerIdentity", form, query=True)
    return sts_answer("GetCallerIdentity", "    <Arn>%s</Arn>\n    <UserId>%s</UserId>\n    <Account>%s</Account>\n"
                      % (xml_escape(caller["arn"]), xml_escape(caller["user_id"]), caller["account"]))


STS_ACTIONS = {"AssumeRoleWithWebIdentity": sts_assume_role_with_web_identity, "AssumeRole": sts_assume_role,
               "GetCallerIdentity": sts_get_caller_identity}


def sts(handler, body):
    """Answers (status, content type, body) for a Query request."""
    ctype = handler.headers.get("Content-Type", "")
    if not ctype.split(";")[0].strip() == "application/x-www-form-urlencoded":
        raise AwsError("InvalidParameterValue", "Unsupported Content-Type: %s" % ctype)
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    form = dict(pairs)
    if len(form) != len(pairs):
        raise AwsError("ValidationError", "A parameter appears more than once in the request")
    action = form.pop("Action", None)
    version = form.pop("Version", None)
    count("sts.%s" % action)
    if action not in STS_ACTIONS or version != "2011-06-15":
        raise AwsError("InvalidAction", "Could not find operation %s for version %s" % (action, version))
    return 200, "text/xml", STS_ACTIONS[action](form, handler, body)


# ---------------------------------------------------------------- Cloud Control: resource types

def ssm_read_only(props, account, region):
    return {}


def ssm_check(props):
    name = props["Name"]
    if not re.fullmatch(r"[a-zA-Z0-9_.\-/]{1,2048}", name) or ("/" in name and not name.startswith("/")):
        return "InvalidRequest", ("Parameter name must be a fully qualified name (begin with /) when it has a "
                                  "hierarchy, and use only a-zA-Z0-9_.-/: %s" % name)
    if re.match(r"/?(aws|ssm)", name, re.IGNORECASE):
        return "InvalidRequest", 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).'
    limit = 8192 if props.get("Tier") in ("Advanced",) else 4096
    if props.get("Tier") == "Intelligent-Tiering":
        limit = 8192
    if len(props["Value"]) > limit:
        return "InvalidRequest", ("Standard tier parameters support a maximum parameter value of 4096 characters. "
                                  "To create a larger parameter value, upgrade the parameter to use the "
                                  "advanced-parameter tier." if limit == 4096 else
                                  "Advanced tier parameters support a maximum parameter value of 8192 characters.")
    return None


def logs_read_only(props, account, region):
    return {"Arn": "arn:aws:logs:%s:%s:log-group:%s:*" % (region, account, props["LogGroupName"])}


def logs_check(props):
    if not re.fullmatch(r"[.\-_/#A-Za-z0-9]{1,512}", props["LogGroupName"]):
        return "InvalidRequest", "Invalid log group name: %s" % props["LogGroupName"]
    return None


def s3_read_only(props, account, region):
    b = props["BucketName"]
    return {"Arn": "arn:aws:s3:::%s" % b, "DomainName": "%s.s3.amazonaws.com" % b,
            "RegionalDomainName": "%s.s3.%s.amazonaws.com" % (b, region),
            "DualStackDomainName": "%s.s3.dualstack.%s.amazonaws.com" % (b, region),
            "WebsiteURL": "http://%s.s3-website-%s.amazonaws.com" % (b, region)}


def s3_check(props):
    b = props["BucketName"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", b) or ".." in b:
        return "InvalidRequest", "Bucket name should not contain uppercase characters and be 3-63 characters: %s" % b
    return None


def sqs_read_only(props, account, region):
    return {"QueueUrl": sqs_url(props["QueueName"], account, region),
            "Arn": "arn:aws:sqs:%s:%s:%s" % (region, account, props["QueueName"])}


def sqs_url(name, account, region):
    return "http://sqs.%s.localhost/%s/%s" % (region, account, name)


def sqs_check(props):
    name = props["QueueName"]
    fifo = props.get("FifoQueue") is True
    stem = name[:-5] if fifo and name.endswith(".fifo") else name
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", stem) or len(name) > 80 or (fifo != name.endswith(".fifo")):
        return "InvalidRequest", "Invalid queue name: %s (FIFO queue names end in .fifo)" % name
    return None


# Each type: primary identifier, properties with their JSON type, required,
# create-only and read-only properties, enums, defaults the service reports,
# a handler check (FAILED InvalidRequest) and the read-only values.
TYPES = {
    "AWS::SSM::Parameter": {
        "primary": "Name", "generated": "CFN-standin-",
        "props": {"Name": str, "Type": str, "Value": str, "Description": str, "Policies": str,
                  "AllowedPattern": str, "Tier": str, "Tags": dict, "DataType": str},
        "required": ["Type", "Value"], "create_only": ["Name"], "read_only": [],
        "enums": {"Type": ["String", "StringList"], "Tier": ["Standard", "Advanced", "Intelligent-Tiering"],
                  "DataType": ["text", "aws:ec2:image"]},
        "defaults": {}, "check": ssm_check, "computed": ssm_read_only,
    },
    "AWS::Logs::LogGroup": {
        "primary": "LogGroupName", "generated": "standin-LogGroup-",
        "props": {"LogGroupName": str, "KmsKeyId": str, "RetentionInDays": int, "Tags": list,
                  "DataProtectionPolicy": dict, "LogGroupClass": str, "Arn": str},
        "required": [], "create_only": ["LogGroupName", "LogGroupClass"], "read_only": ["Arn"],
        "enums": {"LogGroupClass": ["STANDARD", "INFREQUENT_ACCESS"],
                  "RetentionInDays": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                      2192, 2557, 2922, 3288, 3653]},
        "defaults": {}, "check": logs_check, "computed": logs_read_only,
    },
    "AWS::S3::Bucket": {
        "primary": "BucketName", "generated": "standin-bucket-",
        "props": {"BucketName": str, "Tags": list, "VersioningConfiguration": dict, "BucketEncryption": dict,
                  "PublicAccessBlockConfiguration": dict, "LifecycleConfiguration": dict, "AccessControl": str,
                  "OwnershipControls": dict, "NotificationConfiguration": dict, "WebsiteConfiguration": dict,
                  "CorsConfiguration": dict, "LoggingConfiguration": dict, "ObjectLockEnabled": bool,
                  "ObjectLockConfiguration": dict, "AccelerateConfiguration": dict,
                  "ReplicationConfiguration": dict, "IntelligentTieringConfigurations": list,
                  "InventoryConfigurations": list, "MetricsConfigurations": list, "AnalyticsConfigurations": list,
                  "Arn": str, "DomainName": str, "RegionalDomainName": str, "DualStackDomainName": str,
                  "WebsiteURL": str},
        "required": [], "create_only": ["BucketName", "ObjectLockEnabled"],
        "read_only": ["Arn", "DomainName", "RegionalDomainName", "DualStackDomainName", "WebsiteURL"],
        "enums": {}, "defaults": {}, "check": s3_check, "computed": s3_read_only,
    },
    "AWS::SQS::Queue": {
        "primary": "QueueUrl", "generated": None,
        "props": {"QueueName": str, "DelaySeconds": int, "MaximumMessageSize": int, "MessageRetentionPeriod": int,
                  "ReceiveMessageWaitTimeSeconds": int, "VisibilityTimeout": int, "FifoQueue": bool,
                  "ContentBasedDeduplication": bool, "DeduplicationScope": str, "FifoThroughputLimit": str,
                  "KmsMasterKeyId": str, "KmsDataKeyReusePeriodSeconds": int, "SqsManagedSseEnabled": bool,
                  "RedrivePolicy": dict, "RedriveAllowPolicy": dict, "Tags": list, "QueueUrl": str, "Arn": str},
        "required": ["QueueName"], "create_only": ["QueueName", "FifoQueue"], "read_only": ["QueueUrl", "Arn"],
        "enums": {"DeduplicationScope": ["messageGroup", "queue"],
                  "FifoThroughputLimit": ["perQueue", "perMessageGroupId"]},
        "defaults": {"DelaySeconds": 0, "MaximumMessageSize": 262144, "MessageRetentionPeriod": 345600,
                     "ReceiveMessageWaitTimeSeconds": 0, "VisibilityTimeout": 30, "SqsManagedSseEnabled": True},
        "check": sqs_check, "computed": sqs_read_only,
    },
}
JSON_TYPE_NAMES = {str: "String", int: "Integer", bool: "Boolean", dict: "JSONObject", list: "JSONArray"}


def type_of(name):
    t = TYPES.get(name)
    if t is None:
        raise AwsError("TypeNotFoundException", "The type '%s' cannot be found." % name)
    return t


def model_errors(t, props, allow_read_only):
    """The resource schema's complaints about a model, as "#: ..." lines."""
    errs = []
    for key, value in props.items():
        kind = t["props"].get(key)
        if kind is None:
            errs.append("#: extraneous key [%s] is not permitted" % key)
        elif key in t["read_only"] and not allow_read_only:
            errs.append("#: readOnly property [/properties/%s] cannot be set" % key)
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errs.append("#/%s: expected type: %s, found: %s" % (key, JSON_TYPE_NAMES[kind], json_type_name(value)))
        elif key in t["enums"] and value not in t["enums"][key]:
            errs.append("#/%s: %s is not a valid enum value" % (key, json.dumps(value)))
    for key in t["required"]:
        if key not in props:
            errs.append("#: required key [%s] not found" % key)
    return errs


def json_type_name(v):
    for kind in (bool, int, str, dict, list):
        if isinstance(v, kind):
            return JSON_TYPE_NAMES[kind]
    return "Number" if isinstance(v, float) else "Null"


def parse_model(text, what):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise AwsError("ValidationException", "%s is not valid JSON: %s" % (what, e))
    return doc


def check_model(t, props, allow_read_only=False):
    if not isinstance(props, dict):
        raise AwsError("ValidationException", "Model validation failed (#: expected type: JSONObject, found: %s)"
                       % json_type_name(props))
    errs = model_errors(t, props, allow_read_only)
    if errs:
        raise AwsError("ValidationException", "Model validation failed (%s)" % "\n".join(errs))


def full_model(t, props, account, region):
    out = dict(t["defaults"])
    out.update({k: v for k, v in props.items() if k not in t["read_only"]})
    out.update(t["computed"](out, account, region))
    return out


def identifier_of(t, props, account, region):
    if t["primary"] == "QueueUrl":
        return sqs_url(props["QueueName"], account, region) if "QueueName" in props else None
    return props.get(t["primary"])


# ---------------------------------------------------------------- Cloud Control: RFC 6902

class PatchError(Exception):
    pass


def pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("JSON pointer '%s' must start with /" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_equal(a, b):
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                       and not isinstance(a, bool) and not isinstance(b, bool)):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return a == b


def resolve(doc, parts, path):
    node = doc
    for p in parts:
        if isinstance(node, dict):
            if p not in node:
                raise PatchError("path '%s' does not exist" % path)
            node = node[p]
        elif isinstance(node, list):
            if not re.fullmatch(r"0|[1-9]\d*", p) or int(p) >= len(node):
                raise PatchError("path '%s' does not exist" % path)
            node = node[int(p)]
        else:
            raise PatchError("path '%s' does not exist" % path)
    return node


def patch_add(doc, parts, value, path):
    if not parts:
        return copy.deepcopy(value)
    parent = resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        elif re.fullmatch(r"0|[1-9]\d*", last) and int(last) <= len(parent):
            parent.insert(int(last), copy.deepcopy(value))
        else:
            raise PatchError("index '%s' out of bounds at '%s'" % (last, path))
    else:
        raise PatchError("parent of '%s' is not a container" % path)
    return doc


def patch_remove(doc, parts, path):
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = resolve(doc, parts[:-1], path)
    resolve(doc, parts, path)
    if isinstance(parent, dict):
        del parent[parts[-1]]
    else:
        del parent[int(parts[-1])]
    return doc


def apply_patch(doc, ops):
    """RFC 6902 on a copy of doc; PatchError when an operation cannot apply."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op["op"], op["path"]
        parts = pointer(path)
        if kind == "add":
            doc = patch_add(doc, parts, op["value"], path)
        elif kind == "remove":
            doc = patch_remove(doc, parts, path)
        elif kind == "replace":
            resolve(doc, parts, path)
            doc = patch_add(patch_remove(doc, parts, path), parts, op["value"], path) if parts else op["value"]
        elif kind in ("move", "copy"):
            src = pointer(op["from"])
            value = copy.deepcopy(resolve(doc, src, op["from"]))
            if kind == "move":
                if parts[:len(src)] == src and len(parts) > len(src):
                    raise PatchError("cannot move '%s' into its own child '%s'" % (op["from"], path))
                doc = patch_remove(doc, src, op["from"])
            doc = patch_add(doc, parts, value, path)
        elif kind == "test":
            if not json_equal(resolve(doc, parts, path), op["value"]):
                raise PatchError("test failed at '%s'" % path)
    return doc


def parse_patch(text):
    """The patch document's operations; ValidationException when it is not one."""
    ops = parse_model(text, "PatchDocument")
    bad = AwsError("ValidationException", "PatchDocument must be a JSON array of RFC 6902 operations")
    if not isinstance(ops, list) or not ops:
        raise bad
    needs = {"add": ("path", "value"), "remove": ("path",), "replace": ("path", "value"), "move": ("path", "from"),
             "copy": ("path", "from"), "test": ("path", "value")}
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in needs:
            raise bad
        for key in needs[op["op"]]:
            if key not in op or (key in ("path", "from") and not isinstance(op[key], str)):
                raise AwsError("ValidationException", "Patch operation %s needs '%s'" % (json.dumps(op), key))
        for key in op:
            if key not in ("op",) + needs[op["op"]]:
                raise AwsError("ValidationException", "Patch operation %s has unknown member '%s'"
                               % (json.dumps(op), key))
        try:
            pointer(op["path"])
            if "from" in op:
                pointer(op["from"])
        except PatchError as e:
            raise AwsError("ValidationException", str(e))
    return ops


def check_updatable(t, ops):
    """NotUpdatableException for a patch touching create-only or read-only
    properties (the primary identifier is one or the other); test only reads."""
    touched = set()
    for op in ops:
        if op["op"] == "test":
            continue
        for path in [op["path"]] + ([op["from"]] if op["op"] == "move" else []):
            touched.add((pointer(path) or [""])[0])
    create_only = set(t["create_only"]) | ({t["primary"]} - set(t["read_only"]))
    for kind, names in (("createOnlyProperties", create_only), ("readOnlyProperties", set(t["read_only"]))):
        hit = sorted(n for n in names if n in touched or "" in touched)
        if hit:
            raise AwsError("NotUpdatableException", "Invalid patch update: %s [%s] cannot be updated"
                           % (kind, ", ".join("/properties/%s" % n for n in hit)))


# ---------------------------------------------------------------- Cloud Control: operations

def progress_event(req):
    ev = {"TypeName": req["type"], "RequestToken": req["token"], "Operation": req["op"],
          "OperationStatus": req["status"], "EventTime": req["event_time"]}
    for src, dst in (("identifier", "Identifier"), ("model", "ResourceModel"), ("error_code", "ErrorCode"),
                     ("status_message", "StatusMessage")):
        if req.get(src) is not None:
            ev[dst] = req[src]
    after = CONFIG.get("retry_after_ms")
    if req["status"] == "IN_PROGRESS" and after is not None:
        ev["RetryAfter"] = now() + float(after) / 1000.0
    return {"ProgressEvent": ev}


def busy(account, region, rtype, identifier):
    if identifier is None:
        return False
    return any(r["status"] == "IN_PROGRESS" and (r["account"], r["region"], r["type"], r["identifier"]) ==
               (account, region, rtype, identifier) for r in STATE["cc_requests"].values())


def start_request(caller, region, op, params, identifier, extra):
    """The idempotent front of every mutation: replays, conflicts, concurrency."""
    account = caller["account"]
    client_token = params.get("ClientToken")
    signature = {k: v for k, v in params.items() if k != "ClientToken"}
    signature["op"] = op
    if client_token is not None:
        known = STATE["cc_client_tokens"].get((account, region, client_token))
        if known is not None:
            req = STATE["cc_requests"][known]
            if req["signature"] != signature:
                raise AwsError("ClientTokenConflictException", "Client token [%s] is already in use with different "
                                                               "request parameters" % client_token)
            return progress_event(req)
    if busy(account, region, params["TypeName"], identifier):
        raise AwsError("ConcurrentOperationException", "Another Operation on resource [%s] is in progress"
                       % identifier)
    token = str(uuid.uuid4())
    req = {"token": token, "client_token": client_token, "account": account, "region": region, "op": op,
           "type": params["TypeName"], "identifier": identifier, "status": "IN_PROGRESS", "event_time": now(),
           "polls_left": max(1, int(CONFIG["polls"])), "signature": signature}
    req.update(extra)
    STATE["cc_requests"][token] = req
    if client_token is not None:
        STATE["cc_client_tokens"][(account, region, client_token)] = token
    return progress_event(req)


def cc_create(caller, region, params):
    t = type_of(params["TypeName"])
    desired = parse_model(params["DesiredState"], "DesiredState")
    check_model(t, desired)
    identifier = identifier_of(t, desired, caller["account"], region)
    return start_request(caller, region, "CREATE", params, identifier, {"desired": desired})


def cc_update(caller, region, params):
    t = type_of(params["TypeName"])
    ops = parse_patch(params["PatchDocument"])
    check_updatable(t, ops)
    current = STATE["resources"].get((caller["account"], region, params["TypeName"], params["Identifier"]))
    if current is not None:
        try:
            check_model(t, apply_patch(current, ops), allow_read_only=True)
        except PatchError:
            pass  # fails when it runs, as InvalidRequest
    return start_request(caller, region, "UPDATE", params, params["Identifier"], {"ops": ops})


def cc_delete(caller, region, params):
    type_of(params["TypeName"])
    return start_request(caller, region, "DELETE", params, params["Identifier"], {})


def complete(req):
    """Carries out the request's change, at the poll that ends it."""
    t = TYPES[req["type"]]
    key = (req["account"], req["region"], req["type"])
    failure = None
    if req["op"] == "CREATE":
        failure = run_create(req, t, key)
    elif req["op"] == "UPDATE":
        failure = run_update(req, t, key)
    else:
        if key + (req["identifier"],) not in STATE["resources"]:
            failure = ("NotFound", "Resource of type '%s' with identifier '%s' was not found."
                       % (req["type"], req["identifier"]))
        else:
            del STATE["resources"][key + (req["identifier"],)]
            if req["type"] == "AWS::S3::Bucket":
                STATE["buckets"].discard(req["identifier"])
    if failure:
        req["status"], req["error_code"], req["status_message"] = "FAILED", failure[0], failure[1]
        req["model"] = None
    else:
        req["status"] = "SUCCESS"
        act({"CREATE": "CreateResource", "UPDATE": "UpdateResource", "DELETE": "DeleteResource"}[req["op"]],
            req["account"], req["region"], req["type"], req["identifier"], req["client_token"], req["token"])
    req["event_time"] = now()


def run_create(req, t, key):
    props = dict(req["desired"])
    primary = t["primary"]
    if t["generated"] and primary not in props:
        props[primary] = t["generated"] + secrets.token_hex(6)
    names = {req["identifier"], props.get(primary), props.get("QueueName")} - {None}
    for name in names:
        spec = CONFIG["fail_create"].get("%s/%s" % (req["type"], name))
        if spec:
            code, _, message = spec.partition(":")
            return code.strip(), message.strip()
    problem = t["check"](props)
    if problem:
        return problem
    model = full_model(t, props, req["account"], req["region"])
    identifier = model[primary]
    exists = key + (identifier,) in STATE["resources"] or (
        req["type"] == "AWS::S3::Bucket" and identifier in STATE["buckets"])
    if exists:
        return "AlreadyExists", "Resource of type '%s' with identifier '%s' already exists." % (req["type"], identifier)
    STATE["resources"][key + (identifier,)] = model
    if req["type"] == "AWS::S3::Bucket":
        STATE["buckets"].add(identifier)
    req["identifier"] = identifier
    req["model"] = json.dumps(model)
    return None


def run_update(req, t, key):
    current = STATE["resources"].get(key + (req["identifier"],))
    if current is None:
        return "NotFound", "Resource of type '%s' with identifier '%s' was not found." % (req["type"], req["identifier"])
    try:
        patched = apply_patch(current, req["ops"])
    except PatchError as e:
        return "InvalidRequest", "Invalid patch: %s" % e
    errs = model_errors(t, patched, True) if isinstance(patched, dict) else ["#: expected type: JSONObject"]
    if errs:
        return "InvalidRequest", "Model validation failed (%s)" % "\n".join(errs)
    problem = t["check"](patched)
    if problem:
        return problem
    model = full_model(t, patched, req["account"], req["region"])
    STATE["resources"][key + (req["identifier"],)] = model
    req["model"] = json.dumps(model)
    return None


def cc_status(caller, region, params):
    req = STATE["cc_requests"].get(params["RequestToken"])
    if req is None or (req["account"], req["region"]) != (caller["account"], region):
        raise AwsError("RequestTokenNotFoundException", "Request with token %s was not found" % params["RequestToken"])
    if req["status"] == "IN_PROGRESS":
        req["polls_left"] -= 1
        if req["polls_left"] <= 0:
            complete(req)
    return progress_event(req)


def cc_get(caller, region, params):
    type_of(params["TypeName"])
    props = STATE["resources"].get((caller["account"], region, params["TypeName"], params["Identifier"]))
    if props is None:
        raise AwsError("ResourceNotFoundException", "Resource of type '%s' with identifier '%s' was not found."
                       % (params["TypeName"], params["Identifier"]))
    return {"TypeName": params["TypeName"],
            "ResourceDescription": {"Identifier": params["Identifier"], "Properties": json.dumps(props)}}


def cc_list(caller, region, params):
    type_of(params["TypeName"])
    found = sorted((k[3], v) for k, v in STATE["resources"].items()
                   if k[:3] == (caller["account"], region, params["TypeName"]))
    start = int(params["NextToken"]) if str(params.get("NextToken", "0")).isdigit() else 0
    size = params.get("MaxResults", 100)
    page = found[start:start + size]
    out = {"TypeName": params["TypeName"],
           "ResourceDescriptions": [{"Identifier": i, "Properties": json.dumps(p)} for i, p in page]}
    if start + size < len(found):
        out["NextToken"] = str(start + size)
    return out


CC_OPS = {"CreateResource": cc_create, "UpdateResource": cc_update, "DeleteResource": cc_delete,
          "GetResourceRequestStatus": cc_status, "GetResource": cc_get, "ListResources": cc_list}

# ---------------------------------------------------------------- Organizations

def org_account(account_id):
    acct = STATE["org_accounts"].get(account_id)
    if acct is None:
        raise AwsError("AccountNotFoundException", "You specified an account that doesn't exist.")
    return acct


def org_parents():
    return [ROOT_ID] + list(CONFIG["ous"])


def org_create_account(caller, params):
    car = "car-" + uuid.uuid4().hex
    STATE["car"][car] = {"Id": car, "AccountName": params["AccountName"], "Email": params["Email"],
                         "State": "IN_PROGRESS", "RequestedTimestamp": now(),
                         "polls_left": max(1, int(CONFIG["polls"]))}
    return {"CreateAccountStatus": car_view(STATE["car"][car])}


def car_view(rec):
    return {k: v for k, v in rec.items() if k not in ("Email", "polls_left")}


def org_describe_create_account_status(caller, params):
    rec = STATE["car"].get(params["CreateAccountRequestId"])
    if rec is None:
        raise AwsError("CreateAccountStatusNotFoundException", "We can't find an create account request with the "
                                                               "CreateAccountRequestId that you specified.")
    if rec["State"] == "IN_PROGRESS":
        rec["polls_left"] -= 1
        if rec["polls_left"] <= 0:
            finish_create_account(rec)
    return {"CreateAccountStatus": car_view(rec)}


def finish_create_account(rec):
    rec["CompletedTimestamp"] = now()
    if any(a["Email"].lower() == rec["Email"].lower() for a in STATE["org_accounts"].values()):
        rec["State"], rec["FailureReason"] = "FAILED", "EMAIL_ALREADY_EXISTS"
        return
    account_id = "%012d" % STATE["next_account"]
    STATE["next_account"] += 1
    STATE["org_accounts"][account_id] = {"Name": rec["AccountName"], "Email": rec["Email"], "Status": "ACTIVE",
                                         "Parent": ROOT_ID, "JoinedMethod": "CREATED", "JoinedTimestamp": now()}
    rec["State"], rec["AccountId"] = "SUCCEEDED", account_id
    act("CreateAccount", CONFIG["management_account"], "us-east-1", "AWS::Organizations::Account", account_id,
        None, rec["Id"])


def org_list_roots(caller, params):
    return {"Roots": [{"Id": ROOT_ID, "Arn": "arn:aws:organizations::%s:root/%s/%s"
                       % (CONFIG["management_account"], ORG_ID, ROOT_ID), "Name": "Root", "PolicyTypes": []}]}


def org_move_account(caller, params):
    acct = org_account(params["AccountId"])
    if params["SourceParentId"] not in org_parents():
        raise AwsError("SourceParentNotFoundException", "We can't find a source root or OU with the ParentId that "
                                                        "you specified.")
    if params["DestinationParentId"] not in org_parents():
        raise AwsError("DestinationParentNotFoundException", "We can't find the destination container (a root or "
                                                             "OU) with the ParentId that you specified.")
    if acct["Parent"] != params["SourceParentId"]:
        raise AwsError("AccountNotFoundException", "You specified an account that doesn't exist in the source "
                                                   "parent.")
    if params["SourceParentId"] == params["DestinationParentId"]:
        raise AwsError("DuplicateAccountException", "That account is already present in the specified destination.")
    acct["Parent"] = params["DestinationParentId"]
    act("MoveAccount", CONFIG["management_account"], "us-east-1", "AWS::Organizations::Account",
        params["AccountId"], None, None)
    return {}


def org_close_account(caller, params):
    acct = org_account(params["AccountId"])
    if params["AccountId"] == CONFIG["management_account"]:
        raise AwsError("ConstraintViolationException", "You can't close the management account.",
                       Reason="CLOSE_ACCOUNT_QUOTA_EXCEEDED")
    if acct["Status"] != "ACTIVE":
        raise AwsError("AccountAlreadyClosedException", "You attempted to close an account that is already closed.")
    acct["Status"] = "SUSPENDED"
    act("CloseAccount", CONFIG["management_account"], "us-east-1", "AWS::Organizations::Account",
        params["AccountId"], None, None)
    return {}


def org_describe_account(caller, params):
    acct = org_account(params["AccountId"])
    return {"Account": {"Id": params["AccountId"], "Arn": "arn:aws:organizations::%s:account/%s/%s"
                        % (CONFIG["management_account"], ORG_ID, params["AccountId"]),
                        "Email": acct["Email"], "Name": acct["Name"], "Status": acct["Status"],
                        "JoinedMethod": acct["JoinedMethod"], "JoinedTimestamp": acct["JoinedTimestamp"]}}


ORG_OPS = {"CreateAccount": org_create_account, "DescribeCreateAccountStatus": org_describe_create_account_status,
           "ListRoots": org_list_roots, "MoveAccount": org_move_account, "CloseAccount": org_close_account,
           "DescribeAccount": org_describe_account}


def ensure_management_account():
    mgmt = CONFIG["management_account"]
    if mgmt not in STATE["org_accounts"]:
        STATE["org_accounts"][mgmt] = {"Name": "management", "Email": "management@standin.invalid",
                                       "Status": "ACTIVE", "Parent": ROOT_ID, "JoinedMethod": "CREATED",
                                       "JoinedTimestamp": now()}


# ---------------------------------------------------------------- JSON dispatch

JSON_SERVICES = {
    # target prefix: (botocore name, SigV4 service, content type, region required, ops, __type prefix)
    "CloudApiService": ("cloudcontrol", "cloudcontrolapi", "application/x-amz-json-1.0", None, CC_OPS,
                        CC_TYPE_PREFIX),
    "AWSOrganizationsV20161128": ("organizations", "organizations", "application/x-amz-json-1.1", "us-east-1",
                                  ORG_OPS, ""),
}


def json_service(handler, body, target):
    prefix, _, op = target.partition(".")
    svc = JSON_SERVICES.get(prefix)
    if svc is None or op not in svc[4]:
        raise AwsError("UnknownOperationException", "Unknown operation %s" % target)
    name, signing, ctype, region_required, ops, _ = svc
    count("%s.%s" % (name, op))
    got = handler.headers.get("Content-Type", "").split(";")[0].strip()
    if got != ctype:
        raise AwsError("SerializationException", "Content-Type must be %s, not '%s'" % (ctype, got))
    caller, region = authenticate(handler, body, "json", signing, region_required)
    try:
        params = json.loads(body.decode("utf-8")) if body else None
    except ValueError:
        raise AwsError("SerializationException", "The request body is not valid JSON")
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "The request body must be a JSON object")
    params = validate(name, op, params)
    with LOCK:
        if name == "organizations":
            ensure_management_account()
            if caller["account"] != CONFIG["management_account"]:
                raise AwsError("AccessDeniedException", "You don't have permissions to access this resource.")
            return ops[op](caller, params)
        return ops[op](caller, region, params)


def throttled():
    with LOCK:
        STATE["requests"] += 1
        every = int(CONFIG["throttle_every"] or 0)
        return every > 0 and STATE["requests"] % every == 0


# ---------------------------------------------------------------- HTTP

def state_view():
    accounts = {}
    for (account, region, rtype, identifier), props in STATE["resources"].items():
        accounts.setdefault(account, {}).setdefault(region, {}).setdefault(rtype, {})[identifier] = props
    ensure_management_account()
    return {"config": CONFIG, "accounts": accounts, "counts": STATE["counts"],
            "organization": {"accounts": STATE["org_accounts"]},
            "requests_in_progress": sum(r["status"] == "IN_PROGRESS" for r in STATE["cc_requests"].values())}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body
    # waits for the client's delayed ACK, 40 ms an answer on Linux.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body, hook=False):
        delay = CONFIG["latency_ms"]
        if delay and not hook:
            time.sleep(delay / 1000.0)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_state":
            with LOCK:
                text = json.dumps(state_view(), sort_keys=True)
            return self.answer(200, "application/json", text, hook=True)
        if path == "/_log":
            with LOCK:
                text = "".join(line + "\n" for line in STATE["log"])
            return self.answer(200, "application/x-ndjson", text, hook=True)
        self.answer(404, "text/plain", "not found")

    def do_POST(self):
        data = self.body()
        if self.path == "/_config":
            try:
                update = json.loads(data)
                assert isinstance(update, dict)
            except (ValueError, AssertionError):
                return self.answer(400, "application/json", '{"error": "a JSON object"}', hook=True)
            with LOCK:
                CONFIG.update(update)
            return self.answer(200, "application/json", "{}", hook=True)
        if self.path != "/":
            return self.answer(404, "text/plain", "not found")
        target = self.headers.get("X-Amz-Target")
        if target:
            self.json_request(target, data)
        else:
            self.query_request(data)

    def json_request(self, target, data):
        prefix = target.partition(".")[0]
        svc = JSON_SERVICES.get(prefix)
        ctype = svc[2] if svc else "application/x-amz-json-1.1"
        type_prefix = svc[5] if svc else ""
        try:
            if throttled():
                if prefix == "AWSOrganizationsV20161128":
                    raise AwsError("TooManyRequestsException", "Rate exceeded")
                raise AwsError("ThrottlingException", "Rate exceeded")
            result = json_service(self, data, target)
            self.answer(200, ctype, json.dumps(result))
        except AwsError as e:
            doc = {"__type": type_prefix + e.code, "Message": e.message}
            doc.update(e.extra)
            self.answer(e.status, ctype, json.dumps(doc))

    def query_request(self, data):
        try:
            if throttled():
                raise AwsError("Throttling", "Rate exceeded")
            self.answer(*sts(self, data))
        except AwsError as e:
            self.answer(e.status, "text/xml", sts_error_body(e.code, e.message))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main():
    global LOG_FILE
    parser = argparse.ArgumentParser(description="A strict local stand-in for STS, Cloud Control and Organizations")
    parser.add_argument("--log", help="also append acted-on operations to this file")
    parser.add_argument("--config", help="initial configuration (JSON object)")
    args = parser.parse_args()
    LOG_FILE = args.log
    if args.config:
        CONFIG.update(json.loads(args.config))
    server = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        server.shutdown()

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
