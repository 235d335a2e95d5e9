#!/usr/bin/env bash
# tests/servers/aws_standin.py against the real client: Debian's AWS CLI v2
# (/usr/bin/aws, awscli 2.9, which predates AWS_ENDPOINT_URL, hence
# --endpoint-url) drives the stand-in's STS, Cloud Control and Organizations,
# and every answer it decodes must be what the real service would give: the
# stand-in is the aws driver's only test partner, so where the CLI and the
# stand-in disagree, the stand-in is wrong. A raw botocore client covers what
# the CLI cannot send (a missing member, an old signature, a key without its
# token) and, faster than the CLI starts, the refusals beyond the first of each
# kind. Needs awscli and python3-botocore (ci/setup.sh): without them this
# test fails, it never skips.
source "$(dirname "$0")/lib.sh"

# Debian's packages are what ci/setup.sh installs; a pyenv or venv python3 or
# aws earlier on PATH may lack botocore or be another version.
AWS=
for a in /usr/bin/aws aws; do
	if command -v "$a" >/dev/null && [[ $("$a" --version 2>&1) == aws-cli/2.* ]]; then
		AWS=$(command -v "$a")
		break
	fi
done
[[ -n $AWS ]] || fail "no AWS CLI v2 here (tried /usr/bin/aws and aws): install awscli (ci/setup.sh)"
start_aws_standin --log "$TMP/acted.log"
PY=$STANDIN_PY
ENDPOINT=$AWS_STANDIN

state() { curl -sS "$ENDPOINT/_state"; }
acted() { curl -sS "$ENDPOINT/_log"; }

# The CLI sees nothing of the user's: no profile, no credentials file, no pager, no retries.
: >"$TMP/aws-config"
: >"$TMP/aws-credentials"
export AWS_CONFIG_FILE=$TMP/aws-config
export AWS_SHARED_CREDENTIALS_FILE=$TMP/aws-credentials
export AWS_PAGER=
export AWS_MAX_ATTEMPTS=1
export AWS_RETRY_MODE=standard
export AWS_DEFAULT_REGION=eu-west-1
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_REGION AWS_ROLE_ARN \
	AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
export AWS_EC2_METADATA_DISABLED=true

BASE_KEY=AKIDSTANDINBASE
BASE_SECRET=standin-base-secret

# as_base / as_keys KEY SECRET [TOKEN]: the credentials aws_run signs with.
as_keys() {
	AK=$1 SK=$2 ST=${3:-}
}
as_base() { as_keys "$BASE_KEY" "$BASE_SECRET"; }
as_base

# aws_run EXPECTED_EXIT ARGS...: the CLI against the stand-in, output in $OUT/$ERR.
aws_run() {
	local want=$1 got=0
	shift
	local env=(AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK")
	[[ -z $ST ]] || env+=(AWS_SESSION_TOKEN="$ST")
	env "${env[@]}" "$AWS" --endpoint-url "$ENDPOINT" --output json "$@" >"$OUT_FILE" 2>"$ERR_FILE" || got=$?
	OUT=$(cat "$OUT_FILE")
	ERR=$(cat "$ERR_FILE")
	[[ $got == "$want" ]] || fail "aws $* exited $got, expected $want
--- stdout
$OUT
--- stderr
$ERR"
}

# aws_error CODE OPERATION [MESSAGE]: the CLI printed the service's error
# CODE for OPERATION (with the message's start, if given).
aws_error() {
	assert_matches "$ERR" "^An error occurred \\($1\\) when calling the $2 operation( \\(reached max retries: [0-9]+\\))?: "
	[[ -z ${3:-} || $ERR == *"operation: $3"* || $ERR == *"): $3"* ]] || fail "expected the message '$3' in:
$ERR"
}

# json_get EXPR: a value of $OUT's JSON document, d being the document.
json_get() {
	printf '%s' "$OUT" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# as_role ROLE_ARN SESSION [ARGS...]: assume the role with the base keys, sign with its credentials.
as_role() {
	local role=$1 session=$2
	shift 2
	as_base
	aws_run 0 sts assume-role --role-arn "$role" --role-session-name "$session" "$@"
	assert_json "$OUT" "assume-role $role: temporary credentials" '
c = d["Credentials"]
assert re.fullmatch(r"ASIA[A-Z0-9]{16}", c["AccessKeyId"]), c
assert c["SecretAccessKey"] and c["SessionToken"] and c["Expiration"], c'
	as_keys "$(json_get 'd["Credentials"]["AccessKeyId"]')" "$(json_get 'd["Credentials"]["SecretAccessKey"]')" \
		"$(json_get 'd["Credentials"]["SessionToken"]')"
}

# poll REQUEST_TOKEN: get-resource-request-status until it is no longer IN_PROGRESS.
poll() {
	local status
	for _ in $(seq 10); do
		aws_run 0 cloudcontrol get-resource-request-status --request-token "$1"
		status=$(json_get 'd["ProgressEvent"]["OperationStatus"]')
		[[ $status == IN_PROGRESS ]] || return 0
	done
	fail "request $1 still IN_PROGRESS after 10 polls"
}

# log_lines TEXT: how many lines of GET /_log contain TEXT.
log_lines() {
	acted | grep -cF -- "$1" || true
}

# --- STS: who am I, roles, external ids, the wrong account ---------------

aws_run 0 sts get-caller-identity
assert_json "$OUT" "base identity" '
assert d["Account"] == "111111111111", d
assert d["Arn"] == "arn:aws:iam::111111111111:user/standin", d
assert d["UserId"].startswith("AIDA"), d'

as_role arn:aws:iam::222222222222:role/flotilla-deploy flotilla-acme --duration-seconds 900
aws_run 0 sts get-caller-identity
assert_json "$OUT" "assumed identity: the role's account" '
assert d["Account"] == "222222222222", d
assert d["Arn"] == "arn:aws:sts::222222222222:assumed-role/flotilla-deploy/flotilla-acme", d
assert d["UserId"].startswith("AROA") and d["UserId"].endswith(":flotilla-acme"), d'
ROLE_AK=$AK ROLE_SK=$SK ROLE_ST=$ST

standin_config '{"wrong_account": {"333333333333": "444444444444"}}'
as_role arn:aws:iam::333333333333:role/flotilla-deploy flotilla-globex
aws_run 0 sts get-caller-identity
assert_json "$OUT" "wrong_account: the credentials land elsewhere" 'assert d["Account"] == "444444444444", d'
standin_config '{"wrong_account": {}}'

standin_config '{"role_external_ids": {"arn:aws:iam::222222222222:role/guarded": "ext-0123"}}'
as_base
aws_run 254 sts assume-role --role-arn arn:aws:iam::222222222222:role/guarded --role-session-name s1
aws_error AccessDenied AssumeRole "User: arn:aws:iam::111111111111:user/standin is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/guarded"
as_role arn:aws:iam::222222222222:role/guarded s1 --external-id ext-0123

# Members the CLI does not check itself are the stand-in's to refuse.
as_base
aws_run 254 sts assume-role --role-arn arn:aws:iam::222222222222:role/x --role-session-name 'bad name!'
aws_error ValidationError AssumeRole "1 validation error detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern"

# --- signatures --------------------------------------------------------------

as_keys "$BASE_KEY" not-the-secret
aws_run 254 sts get-caller-identity
aws_error SignatureDoesNotMatch GetCallerIdentity
assert_contains "$ERR" "The request signature we calculated does not match the signature you provided."
as_keys AKIDNOSUCHKEY0000000 whatever
aws_run 254 sts get-caller-identity
aws_error InvalidClientTokenId GetCallerIdentity "The security token included in the request is invalid."

# --- Cloud Control: create, poll, read, update, delete, as the role ---------

as_keys "$ROLE_AK" "$ROLE_SK" "$ROLE_ST"
SSM_STATE='{"Name": "/flotilla/state", "Type": "String", "Value": "marker-1"}'
aws_run 0 cloudcontrol create-resource --type-name AWS::SSM::Parameter --desired-state "$SSM_STATE" --client-token tok-ssm-1
assert_json "$OUT" "create SSM parameter: in progress" '
e = d["ProgressEvent"]
assert e["TypeName"] == "AWS::SSM::Parameter" and e["Operation"] == "CREATE", e
assert e["OperationStatus"] == "IN_PROGRESS" and e["Identifier"] == "/flotilla/state", e
assert re.fullmatch(r"[0-9a-f-]{36}", e["RequestToken"]), e'
SSM_REQ=$(json_get 'd["ProgressEvent"]["RequestToken"]')
# Asynchronous: nothing exists before the request completes.
aws_run 254 cloudcontrol get-resource --type-name AWS::SSM::Parameter --identifier /flotilla/state
assert_contains "$ERR" "(ResourceNotFoundException)"
aws_run 0 cloudcontrol get-resource-request-status --request-token "$SSM_REQ"
assert_json "$OUT" "first poll: still in progress" 'assert d["ProgressEvent"]["OperationStatus"] == "IN_PROGRESS", d'
poll "$SSM_REQ"
assert_json "$OUT" "SSM create: success" '
e = d["ProgressEvent"]
assert e["OperationStatus"] == "SUCCESS" and e["Identifier"] == "/flotilla/state", e
assert json.loads(e["ResourceModel"])["Value"] == "marker-1", e'
aws_run 0 cloudcontrol get-resource --type-name AWS::SSM::Parameter --identifier /flotilla/state
assert_json "$OUT" "get SSM parameter" '
r = d["ResourceDescription"]
assert d["TypeName"] == "AWS::SSM::Parameter" and r["Identifier"] == "/flotilla/state", d
assert json.loads(r["Properties"]) == {"Name": "/flotilla/state", "Type": "String", "Value": "marker-1"}, r'

# From here on a request completes at its first poll (the CLI is slow to start).
standin_config '{"polls": 1}'

# The same client token with the same parameters: the same request, not acted on again.
aws_run 0 cloudcontrol create-resource --type-name AWS::SSM::Parameter --desired-state "$SSM_STATE" --client-token tok-ssm-1
assert_json "$OUT" "replayed client token: the same request" "
e = d['ProgressEvent']
assert e['RequestToken'] == '$SSM_REQ' and e['OperationStatus'] == 'SUCCESS', e"
assert_eq "$(log_lines '"client_token": "tok-ssm-1"')" 1
# ... with other parameters: a conflict.
aws_run 254 cloudcontrol create-resource --type-name AWS::SSM::Parameter --client-token tok-ssm-1 \
	--desired-state '{"Name": "/flotilla/state", "Type": "String", "Value": "marker-2"}'
aws_error ClientTokenConflictException CreateResource

# SQS: the identifier is the queue URL the service makes; read-only properties appear.
aws_run 0 cloudcontrol create-resource --type-name AWS::SQS::Queue --desired-state '{"QueueName": "orders"}' --client-token tok-sqs-1
SQS_REQ=$(json_get 'd["ProgressEvent"]["RequestToken"]')
poll "$SQS_REQ"
QUEUE=http://sqs.eu-west-1.localhost/222222222222/orders
assert_json "$OUT" "SQS create: success" "assert d['ProgressEvent']['Identifier'] == '$QUEUE', d"
aws_run 0 cloudcontrol get-resource --type-name AWS::SQS::Queue --identifier "$QUEUE"
assert_json "$OUT" "get queue: read-only properties and defaults" "
p = json.loads(d['ResourceDescription']['Properties'])
assert p['QueueName'] == 'orders' and p['QueueUrl'] == '$QUEUE', p
assert p['Arn'] == 'arn:aws:sqs:eu-west-1:222222222222:orders', p
assert p['VisibilityTimeout'] == 30, p"

aws_run 0 cloudcontrol update-resource --type-name AWS::SQS::Queue --identifier "$QUEUE" \
	--patch-document '[{"op": "replace", "path": "/VisibilityTimeout", "value": 60}, {"op": "add", "path": "/DelaySeconds", "value": 5}]'
assert_json "$OUT" "update queue: in progress" '
e = d["ProgressEvent"]
assert e["Operation"] == "UPDATE" and e["OperationStatus"] == "IN_PROGRESS", e'
poll "$(json_get 'd["ProgressEvent"]["RequestToken"]')"
assert_json "$OUT" "update queue: success" 'assert d["ProgressEvent"]["OperationStatus"] == "SUCCESS", d'
aws_run 0 cloudcontrol get-resource --type-name AWS::SQS::Queue --identifier "$QUEUE"
assert_json "$OUT" "queue after the patch" '
p = json.loads(d["ResourceDescription"]["Properties"])
assert p["VisibilityTimeout"] == 60 and p["DelaySeconds"] == 5, p'

aws_run 0 cloudcontrol delete-resource --type-name AWS::SQS::Queue --identifier "$QUEUE" --client-token tok-sqs-del
assert_json "$OUT" "delete queue" 'assert d["ProgressEvent"]["Operation"] == "DELETE", d'
poll "$(json_get 'd["ProgressEvent"]["RequestToken"]')"
assert_json "$OUT" "delete queue: success" 'assert d["ProgressEvent"]["OperationStatus"] == "SUCCESS", d'
aws_run 254 cloudcontrol get-resource --type-name AWS::SQS::Queue --identifier "$QUEUE"
aws_error ResourceNotFoundException GetResource "Resource of type 'AWS::SQS::Queue' with identifier '$QUEUE' was not found."

# Resources live in the caller's account and the signing region.
assert_json "$(state)" "state: the role's account and region only" '
a = d["accounts"]
assert list(a) == ["222222222222"] and list(a["222222222222"]) == ["eu-west-1"], a
r = a["222222222222"]["eu-west-1"]
assert list(r["AWS::SSM::Parameter"]) == ["/flotilla/state"], r
assert "AWS::SQS::Queue" not in r, r'

# Every change acted on once: the log has one line per change, with its client token.
assert_eq "$(log_lines '"op": "CreateResource"')" 2
assert_eq "$(log_lines '"op": "UpdateResource"')" 1
assert_eq "$(log_lines '"op": "DeleteResource"')" 1
assert_eq "$(log_lines '"client_token": "tok-sqs-del"')" 1
assert_eq "$(grep -c . "$TMP/acted.log")" 4

# --- members against the model, the CLI's own checks off ------------------

cat >"$TMP/aws-config" <<'EOF'
[default]
parameter_validation = false
EOF
long_token=$(head -c 200 /dev/zero | tr '\0' t)
aws_run 254 cloudcontrol create-resource --type-name AWS::SSM::Parameter --desired-state '{}' --client-token "$long_token"
aws_error ValidationException CreateResource "1 validation error detected: Value '$long_token' at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 128"
: >"$TMP/aws-config"

# --- throttling ----------------------------------------------------------------

standin_config '{"throttle_every": 1}'
aws_run 254 sts get-caller-identity
aws_error Throttling GetCallerIdentity
assert_contains "$ERR" "Rate exceeded"
aws_run 254 cloudcontrol get-resource --type-name AWS::SSM::Parameter --identifier /x
aws_error ThrottlingException GetResource
standin_config '{"throttle_every": 0}'

# --- Organizations --------------------------------------------------------

standin_config '{"polls": 2}'
as_base

aws_run 0 organizations create-account --region us-east-1 --email acme@example.com --account-name acme
assert_json "$OUT" "create-account: in progress" '
s = d["CreateAccountStatus"]
assert re.fullmatch(r"car-[a-z0-9]{8,32}", s["Id"]) and s["State"] == "IN_PROGRESS", s
assert s["AccountName"] == "acme", s'
CAR=$(json_get 'd["CreateAccountStatus"]["Id"]')
aws_run 0 organizations describe-create-account-status --region us-east-1 --create-account-request-id "$CAR"
assert_json "$OUT" "first status: in progress" 'assert d["CreateAccountStatus"]["State"] == "IN_PROGRESS", d'
aws_run 0 organizations describe-create-account-status --region us-east-1 --create-account-request-id "$CAR"
assert_json "$OUT" "second status: succeeded" '
s = d["CreateAccountStatus"]
assert s["State"] == "SUCCEEDED" and re.fullmatch(r"\d{12}", s["AccountId"]), s'
NEW=$(json_get 'd["CreateAccountStatus"]["AccountId"]')
aws_run 0 organizations list-roots --region us-east-1
assert_json "$OUT" "list-roots" '
r = d["Roots"]
assert len(r) == 1 and re.fullmatch(r"r-[0-9a-z]{4,32}", r[0]["Id"]), r'
ROOT=$(json_get 'd["Roots"][0]["Id"]')
aws_run 0 organizations move-account --region us-east-1 --account-id "$NEW" --source-parent-id "$ROOT" --destination-parent-id ou-st4n-aaaaaaaa
aws_run 0 organizations close-account --region us-east-1 --account-id "$NEW"
aws_run 0 organizations describe-account --region us-east-1 --account-id "$NEW"
assert_json "$OUT" "describe-account after closing" "
a = d['Account']
assert a['Id'] == '$NEW' and a['Email'] == 'acme@example.com' and a['Status'] == 'SUSPENDED', a"
# Organizations is us-east-1 only.
aws_run 254 organizations list-roots --region eu-west-1
aws_error InvalidSignatureException ListRoots "Credential should be scoped to a valid region"
assert_eq "$(log_lines '"op": "CreateAccount"')" 1
assert_eq "$(log_lines '"op": "MoveAccount"')" 1
assert_eq "$(log_lines '"op": "CloseAccount"')" 1

# --- what the CLI cannot send: a raw botocore client --------------------------

"$PY" - "$ENDPOINT" "$ROLE_AK" "$ROLE_SK" "$ROLE_ST" "$NEW" >"$TMP/raw.out" 2>&1 <<'EOF' || fail "raw botocore checks: $(cat "$TMP/raw.out")"
import datetime, json, sys, time, urllib.request
import botocore.auth, botocore.awsrequest, botocore.credentials, botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, role_key, role_secret, role_token, new_account = sys.argv[1:6]
session = botocore.session.get_session()

def client(service, key="AKIDSTANDINBASE", secret="standin-base-secret", token=None, region="eu-west-1"):
    return session.create_client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id=key,
                                 aws_secret_access_key=secret, aws_session_token=token,
                                 config=Config(retries={"max_attempts": 1}, parameter_validation=False))

def refused(what, code, text, call):
    try:
        call()
    except ClientError as e:
        err = e.response["Error"]
        assert err["Code"] == code and text in err["Message"], "%s: got %s %r" % (what, err["Code"], err["Message"])
        return
    raise AssertionError("%s: accepted" % what)

def configure(doc):
    urllib.request.urlopen(urllib.request.Request(endpoint + "/_config", data=json.dumps(doc).encode(), method="POST"))

def completed(cc, event):
    token = event["ProgressEvent"]["RequestToken"]
    for _ in range(10):
        e = cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]
        if e["OperationStatus"] != "IN_PROGRESS":
            return e
    raise AssertionError("request %s never completed" % token)

def failed(what, event, code, text=""):
    assert event["OperationStatus"] == "FAILED" and event["ErrorCode"] == code and text in event["StatusMessage"], \
        "%s: %s" % (what, event)

sts = client("sts")
role_sts = client("sts", role_key, role_secret, role_token)
refused("role chaining over an hour", "ValidationError", "1 hour session limit for roles assumed by role chaining",
        lambda: role_sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/other", RoleSessionName="chain",
                                     DurationSeconds=7200))
refused("beyond MaxSessionDuration", "ValidationError", "exceeds the MaxSessionDuration set for this role",
        lambda: sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/other", RoleSessionName="long",
                                DurationSeconds=7200))
refused("wrong external id", "AccessDenied", "is not authorized to perform: sts:AssumeRole",
        lambda: sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/guarded", RoleSessionName="s1",
                                ExternalId="ext-9999"))
refused("not a role arn", "ValidationError", "",
        lambda: sts.assume_role(RoleArn="not-an-arn-but-long-enough", RoleSessionName="s1"))
refused("wrong session token", "InvalidClientTokenId", "security token included in the request is invalid",
        lambda: client("sts", role_key, role_secret, "wrong-session-token").get_caller_identity())
refused("JSON: bad secret", "InvalidSignatureException", "The request signature we calculated does not match",
        lambda: client("cloudcontrol", secret="not-the-secret").get_resource(TypeName="AWS::SSM::Parameter",
                                                                             Identifier="/x"))
refused("JSON: unknown key", "UnrecognizedClientException", "security token included in the request is invalid",
        lambda: client("cloudcontrol", "AKIDNOSUCHKEY0000000").get_resource(TypeName="AWS::SSM::Parameter",
                                                                            Identifier="/x"))

cc = client("cloudcontrol", role_key, role_secret, role_token)
ssm_state = json.dumps({"Name": "/flotilla/state", "Type": "String", "Value": "marker-1"})
failed("create of an existing parameter", completed(cc, cc.create_resource(
    TypeName="AWS::SSM::Parameter", DesiredState=ssm_state)), "AlreadyExists")
try:
    cc.create_resource(TypeName="AWS::SSM::Parameter", DesiredState='{"Name": "/p", "Value": "v", "Colour": "red"}')
    raise AssertionError("a model with an unknown property and without Type accepted")
except ClientError as e:
    msg = e.response["Error"]["Message"]
    assert e.response["Error"]["Code"] == "ValidationException" and msg.startswith("Model validation failed"), msg
    assert "#: extraneous key [Colour] is not permitted" in msg and "#: required key [Type] not found" in msg, msg
refused("unknown type", "TypeNotFoundException", "",
        lambda: cc.create_resource(TypeName="AWS::Nope::Thing", DesiredState="{}"))
failed("a 4097-character standard parameter", completed(cc, cc.create_resource(
    TypeName="AWS::SSM::Parameter", DesiredState=json.dumps({"Name": "/big", "Type": "String", "Value": "v" * 4097}))),
    "InvalidRequest", "4096")
refused("client token pattern", "ValidationException", "Member must satisfy regular expression pattern: [-A-Za-z0-9+/=]+",
        lambda: cc.create_resource(TypeName="AWS::SSM::Parameter", DesiredState="{}", ClientToken="bad token!"))

queue = completed(cc, cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState='{"QueueName": "raw"}'))["Identifier"]
update = cc.update_resource(TypeName="AWS::SQS::Queue", Identifier=queue,
                            PatchDocument='[{"op": "replace", "path": "/VisibilityTimeout", "value": 60}]')
refused("a change while another runs", "ConcurrentOperationException", "is in progress",
        lambda: cc.delete_resource(TypeName="AWS::SQS::Queue", Identifier=queue))
assert completed(cc, update)["OperationStatus"] == "SUCCESS"
refused("patching a create-only property", "NotUpdatableException",
        "Invalid patch update: createOnlyProperties [/properties/QueueName] cannot be updated",
        lambda: cc.update_resource(TypeName="AWS::SQS::Queue", Identifier=queue,
                                   PatchDocument='[{"op": "replace", "path": "/QueueName", "value": "renamed"}]'))
refused("patching a read-only property", "NotUpdatableException", "readOnlyProperties [/properties/Arn]",
        lambda: cc.update_resource(TypeName="AWS::SQS::Queue", Identifier=queue,
                                   PatchDocument='[{"op": "remove", "path": "/Arn"}]'))
refused("a patch that is no RFC 6902 array", "ValidationException", "",
        lambda: cc.update_resource(TypeName="AWS::SQS::Queue", Identifier=queue, PatchDocument='{"op": "add"}'))
failed("replace of a missing path", completed(cc, cc.update_resource(
    TypeName="AWS::SSM::Parameter", Identifier="/flotilla/state",
    PatchDocument='[{"op": "replace", "path": "/Description", "value": "x"}]')), "InvalidRequest")
failed("update of a missing resource", completed(cc, cc.update_resource(
    TypeName="AWS::SSM::Parameter", Identifier="/nothing",
    PatchDocument='[{"op": "add", "path": "/Description", "value": "x"}]')), "NotFound")
refused("another account's resource", "ResourceNotFoundException", "",
        lambda: client("cloudcontrol").get_resource(TypeName="AWS::SSM::Parameter", Identifier="/flotilla/state"))

org = client("organizations", region="us-east-1")
refused("moving from a parent the account is not in", "AccountNotFoundException", "",
        lambda: org.move_account(AccountId=new_account, SourceParentId="r-st4n", DestinationParentId="ou-st4n-bbbbbbbb"))
refused("moving to an unknown OU", "DestinationParentNotFoundException", "",
        lambda: org.move_account(AccountId=new_account, SourceParentId="ou-st4n-aaaaaaaa",
                                 DestinationParentId="ou-st4n-zzzzzzzz"))
refused("closing twice", "AccountAlreadyClosedException", "", lambda: org.close_account(AccountId=new_account))
refused("not an account id", "InvalidInputException", "", lambda: org.describe_account(AccountId="12345"))
refused("not the management account", "AccessDeniedException", "",
        lambda: client("organizations", role_key, role_secret, role_token, region="us-east-1").list_roots())
car = org.create_account(Email="acme@example.com", AccountName="acme-again")["CreateAccountStatus"]["Id"]
for _ in range(2):
    status = org.describe_create_account_status(CreateAccountRequestId=car)["CreateAccountStatus"]
assert status["State"] == "FAILED" and status["FailureReason"] == "EMAIL_ALREADY_EXISTS", status
configure({"throttle_every": 1})
refused("Organizations throttled", "TooManyRequestsException", "Rate exceeded", lambda: org.list_roots())
configure({"throttle_every": 0})

refused("no DesiredState", "ValidationException",
        "1 validation error detected: Value null at 'desiredState' failed to satisfy constraint: Member must not be null",
        lambda: cc.create_resource(TypeName="AWS::SSM::Parameter"))
refused("DesiredState not JSON", "ValidationException", "DesiredState is not valid JSON",
        lambda: cc.create_resource(TypeName="AWS::SSM::Parameter", DesiredState="{nope"))
refused("unknown request token", "RequestTokenNotFoundException", "",
        lambda: cc.get_resource_request_status(RequestToken="0000"))
refused("temporary key without its token", "UnrecognizedClientException", "security token included in the request is invalid",
        lambda: client("cloudcontrol", role_key, role_secret).get_resource(TypeName="AWS::SSM::Parameter", Identifier="/x"))
refused("long-term key with a token", "InvalidClientTokenId", "invalid",
        lambda: client("sts", token="a-token").get_caller_identity())
refused("STS: no RoleSessionName", "MissingParameter", "The request must contain the parameter RoleSessionName",
        lambda: client("sts").assume_role(RoleArn="arn:aws:iam::222222222222:role/x"))
refused("web identity: wrong token", "InvalidIdentityToken", "",
        lambda: client("sts").assume_role_with_web_identity(RoleArn="arn:aws:iam::222222222222:role/w",
                                                            RoleSessionName="ci", WebIdentityToken="wrong-token"))
creds = client("sts").assume_role_with_web_identity(
    RoleArn="arn:aws:iam::111111111111:role/ci", RoleSessionName="ci",
    WebIdentityToken="web-identity-token-0123456789")["Credentials"]
me = client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
assert me["Arn"] == "arn:aws:sts::111111111111:assumed-role/ci/ci", me

# A signature made 20 minutes ago, or with the session token left unsigned.
def send(sign_at, unsigned_token=False):
    body = json.dumps({"TypeName": "AWS::SSM::Parameter", "Identifier": "/flotilla/state"}).encode()
    req = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "CloudApiService.GetResource"})
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(role_key, role_secret, role_token),
                                     "cloudcontrolapi", "eu-west-1")
    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return sign_at
    real = botocore.auth.datetime.datetime
    botocore.auth.datetime.datetime = Frozen
    try:
        if unsigned_token:
            signer.credentials = botocore.credentials.Credentials(role_key, role_secret)
        signer.add_auth(req)
    finally:
        botocore.auth.datetime.datetime = real
    headers = dict(req.headers.items())
    if unsigned_token:
        headers["X-Amz-Security-Token"] = role_token
    prepared = urllib.request.Request(endpoint + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(prepared) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

utc = datetime.datetime.utcnow()
status, doc = send(utc)
assert status == 200 and doc["ResourceDescription"]["Identifier"] == "/flotilla/state", (status, doc)
status, doc = send(utc - datetime.timedelta(minutes=20))
assert status == 403 and doc["__type"].endswith("#InvalidSignatureException") and doc["Message"].startswith("Signature expired"), doc
status, doc = send(utc, unsigned_token=True)
assert status == 403 and "X-Amz-Security-Token" in doc["Message"], doc

# Credentials past their expiry.
configure({"expiration": 1})
short = client("sts").assume_role(RoleArn="arn:aws:iam::222222222222:role/short", RoleSessionName="short")["Credentials"]
time.sleep(1.5)
refused("expired credentials", "ExpiredToken", "expired",
        lambda: client("sts", short["AccessKeyId"], short["SecretAccessKey"], short["SessionToken"]).get_caller_identity())
refused("expired credentials (JSON)", "ExpiredTokenException", "expired",
        lambda: client("cloudcontrol", short["AccessKeyId"], short["SecretAccessKey"], short["SessionToken"]).get_resource(
            TypeName="AWS::SSM::Parameter", Identifier="/x"))
print("raw botocore checks: ok")
EOF

echo "aws_standin_cli: the AWS CLI $("$AWS" --version 2>&1 | cut -d' ' -f1) and botocore agree with the stand-in"
