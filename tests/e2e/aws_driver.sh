#!/usr/bin/env bash
# The aws driver end to end (SPEC 8a) against tests/servers/aws_standin.py,
# which checks every signature with botocore's signer and every request
# against botocore's service models. Twelve accounts, credentials from a
# web-identity token file, a role per tenant with an external id:
#   - three waves: the canaries first, a manual gate, a promotion;
#   - a role that lands in the wrong account fails only its tenant, and
#     nothing is written in either account;
#   - a var changed: an UpdateResource with a patch, the account's values
#     follow; a resource removed (prune): DeleteResource; a tenant
#     decommissioned: everything deleted, its state parameter too, and a
#     receipt in the note;
#   - kill -9 in the middle of a rollout, then a rerun: converged, and the
#     stand-in's log shows no operation done twice.
source "$(dirname "$0")/lib.sh"

start_aws_standin --log "$TMP/ops.log"
BASE=$AWS_STANDIN

state() { curl -sS -f "$BASE/_state"; }
# py EXPR: evaluates a Python expression over the stand-in's state (s) and log (log, a list of dicts).
py() {
	state >"$TMP/state.json"
	python3 - "$TMP/state.json" "$TMP/ops.log" "$1" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
log = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
def res(acct, region="us-east-1", typ=None):
    r = s["accounts"].get(acct, {}).get(region, {})
    return r if typ is None else r.get(typ, {})
print(eval(sys.argv[3]))
EOF
}

# Credentials: web identity only; nothing else may be picked up.
standin_aws_env
WEB_TOKEN=web-identity-token-e2e-0123456789
printf '%s' "$WEB_TOKEN" >"$TMP/web-token"
export AWS_WEB_IDENTITY_TOKEN_FILE=$TMP/web-token
export AWS_ROLE_ARN=arn:aws:iam::111111111111:role/fleet-ci

git_repo "$TMP/f"
cd "$TMP/f"
mkdir tenants release
cat >fleet.yaml <<'EOF'
version: 1
name: aws-e2e
vars:
  display_name: { type: string, required: true }
  retention: { type: integer, default: 345600 }
services: [api]
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 1
    failure_tolerance: 0
  - name: early
    select: { labels: { ring: early } }
    max_parallel: 2
    failure_tolerance: 0
    gate: manual
  - name: fleet
    select: rest
    max_parallel: 3
    failure_tolerance: 2
prune: true
guard: { max_delete_percent: 100 }
driver: { type: aws, role: "arn:aws:iam::{{tenant.account}}:role/flotilla-deploy", external_id: "ext-{{tenant.name}}", poll_interval: 0s }
EOF
cat >release/app.yaml <<'EOF'
kind: AWS::SSM::Parameter
name: config
spec:
  Name: "/app/{{tenant.name}}/config"
  Type: String
  Value: "{{vars.display_name}} in {{region}}"
---
kind: AWS::SQS::Queue
name: jobs
spec:
  QueueName: "{{tenant.name}}-jobs"
  MessageRetentionPeriod: "{{vars.retention}}"
---
kind: AWS::Logs::LogGroup
name: logs
spec:
  LogGroupName: "/app/{{tenant.name}}"
  RetentionInDays: 7
EOF
ids="{"
i=0
for t in can-a can-b early-a early-b early-c fl-a fl-b fl-c fl-d fl-e fl-f fl-wrong; do
	i=$((i + 1))
	acct=$(printf '2000000000%02d' "$i")
	canary=false labels='{}' regions='[us-east-1]'
	case $t in
	can-*) canary=true ;;
	early-*) labels='{ ring: early }' ;;
	fl-b) regions='[us-east-1, eu-west-1]' ;;
	esac
	printf 'name: %s\naccount: "%s"\nregions: %s\ncanary: %s\nlabels: %s\nservices: [api]\nvars: { display_name: "%s" }\n' \
		"$t" "$acct" "$regions" "$canary" "$labels" "$t" >"tenants/$t.yaml"
	ids="$ids\"arn:aws:iam::$acct:role/flotilla-deploy\": \"ext-$t\", "
done
commit . "twelve accounts on AWS"
standin_config "{\"web_token\": \"$WEB_TOKEN\", \"role_external_ids\": ${ids%, }}, \"wrong_account\": {\"200000000012\": \"200000000099\"}}"

# ---- three waves: canaries, a manual gate, a promotion ----
run_fl 0 validate
# A tenant that cannot be planned makes the plan an error (exit 1), the others still shown.
run_fl 1 plan --detailed-exitcode
assert_contains "$OUT" "+ AWS::SQS::Queue/jobs"
assert_contains "$OUT" "tenant fl-wrong (wave fleet, account 200000000012): failed: the account reports id '200000000099', but the manifest names '200000000012': nothing is written"

run_fl 5 apply
assert_contains "$OUT" "canary     success  applied 2/2"
assert_contains "$OUT" "early      pending  awaiting promotion"
assert_eq "$(py 'sorted(s["accounts"])')" "['200000000001', '200000000002']"
assert_eq "$(py 'sorted(res("200000000001", typ="AWS::SQS::Queue"))')" "['http://sqs.us-east-1.localhost/200000000001/can-a-jobs']"

run_fl 0 promote HEAD --wave early
run_fl 0 apply
assert_contains "$OUT" "early      success  applied 3/3"
assert_contains "$OUT" "fleet      success  applied 6/7, 1 failed (tolerance 2)"
# The wrong account: only that tenant failed, and nothing was written in either account.
assert_eq "$(py '[a for a in ("200000000012", "200000000099") if a in s["accounts"]]')" "[]"
assert_eq "$(py 'sum(1 for l in log if l["account"] in ("200000000012", "200000000099"))')" "0"
assert_eq "$(py 'len(s["accounts"])')" "11"
# Every region holds the three resources and the state parameter (fl-b has two regions).
assert_eq "$(py 'sorted(sum(len(v) for v in reg.values()) for a in s["accounts"].values() for reg in a.values())')" \
	"[4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]"
assert_contains "$(py 'res("200000000007", "eu-west-1", "AWS::SSM::Parameter")["/flotilla/state"]["Value"]')" \
	'"regions":["us-east-1","eu-west-1"]'
assert_eq "$(py 'sum(1 for l in log if l["op"] == "CreateResource")')" "48"
assert_eq "$(note . HEAD | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenants"]["fl-wrong"]["result"])')" "failed"

# The role fixed: the tenant is onboarded, and the fleet is converged.
standin_config '{"wrong_account": {}}'
run_fl 0 apply
run_fl 0 plan --detailed-exitcode
assert_contains "$OUT" "no changes: 12 tenants converged"

# ---- a var changed: patched in place ----
sed -i 's/default: 345600 }/default: 600 }/' fleet.yaml
commit . "shorter retention"
run_fl 3 plan --detailed-exitcode
assert_contains "$OUT" "MessageRetentionPeriod: 345600 -> 600"
run_fl 5 apply
run_fl 0 promote HEAD --wave early
run_fl 0 apply
assert_eq "$(py 'sum(1 for l in log if l["op"] == "UpdateResource" and l["type"] == "AWS::SQS::Queue")')" "13"
assert_eq "$(py 'sorted(set(q["MessageRetentionPeriod"] for a in s["accounts"].values() for reg in a.values() for q in reg["AWS::SQS::Queue"].values()))')" "[600]"
assert_eq "$(py 'sum(1 for l in log if l["op"] == "CreateResource")')" "52"
run_fl 0 plan --detailed-exitcode

# ---- a resource removed, a tenant decommissioned ----
python3 - <<'EOF'
s = open("release/app.yaml").read()
open("release/app.yaml", "w").write(s[:s.index("---\nkind: AWS::Logs::LogGroup")])
EOF
echo "state: decommissioned" >>tenants/fl-f.yaml
commit . "no log groups; fl-f leaves"
run_fl 3 plan --detailed-exitcode
assert_contains "$OUT" "- AWS::Logs::LogGroup/logs"
assert_contains "$OUT" "tenant fl-f (wave fleet, account 200000000011) [decommissioned: every flotilla resource is deleted]"
run_fl 5 apply
run_fl 0 promote HEAD --wave early
run_fl 0 apply
assert_eq "$(py 'sum(len(reg.get("AWS::Logs::LogGroup", {})) for a in s["accounts"].values() for reg in a.values())')" "0"
assert_eq "$(py 'sum(len(v) for reg in s["accounts"].get("200000000011", {}).values() for v in reg.values())')" "0"
assert_eq "$(py 'sorted(l["type"] for l in log if l["op"] == "DeleteResource" and l["account"] == "200000000011")')" \
	"['AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::SSM::Parameter', 'AWS::SSM::Parameter']"
note . HEAD >"$TMP/note.json"
assert_eq "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tenants"]["fl-f"]; print(t["result"], sorted(d["kind"] for d in t["decommission_receipt"]["deleted"]))' "$TMP/note.json")" \
	"decommissioned ['AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::SSM::Parameter']"
run_fl 0 plan --detailed-exitcode
assert_contains "$OUT" "no changes: 12 tenants converged"

# ---- kill -9 in the middle of a rollout, then a rerun ----
sed -i 's/default: 600 }/default: 900 }/' fleet.yaml
cat >>release/app.yaml <<'EOF'
---
kind: AWS::Logs::LogGroup
name: audit
spec:
  LogGroupName: "/audit/{{tenant.name}}"
EOF
commit . "an audit log group, and a longer retention"
run_fl 5 apply
run_fl 0 promote HEAD --wave early
before=$(wc -l <"$TMP/ops.log")
standin_config '{"latency_ms": 80}'
"$FLOTILLA" apply >"$TMP/killed.out" 2>&1 &
pid=$!
# Killed once four accounts have been acted on, of the nine this run changes.
acted_accounts() { tail -n +$((before + 1)) "$TMP/ops.log" | { grep -o '"account": "[0-9]*"' || true; } | sort -u | wc -l; }
for _ in $(seq 1200); do
	n=$(acted_accounts)
	((n >= 4)) && break
	sleep 0.02
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
n=$(acted_accounts)
((n >= 4 && n < 9)) || fail "the rollout was not killed half way (accounts acted on: $n): $(cat "$TMP/killed.out")"
standin_config '{"latency_ms": 0}'
run_fl 0 apply
run_fl 0 plan --detailed-exitcode
assert_contains "$OUT" "no changes: 12 tenants converged"
# No operation twice: one audit log group per region of the nine accounts
# (fl-b has two), and every acted-on (operation, account, region, resource) once since the kill run began.
python3 - "$TMP/ops.log" "$before" <<'EOF' || fail "an operation was done twice after kill -9 (see above)"
import collections, json, sys
lines = [json.loads(l) for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]]
keys = collections.Counter((l["op"], l["account"], l["region"], l["type"], l["identifier"]) for l in lines
                           if l["identifier"] != "/flotilla/state")
twice = [k for k, n in keys.items() if n > 1]
creates = sum(1 for l in lines if l["op"] == "CreateResource")
if twice or creates != 10:
    print("twice:", twice, "creates:", creates)
    sys.exit(1)
EOF

# No secret reached any output or the note.
for f in "$OUT_FILE" "$ERR_FILE" "$TMP/killed.out" "$TMP/note.json"; do
	assert_not_contains "$f" "$WEB_TOKEN"
	assert_not_contains "$f" "standin-base-secret"
done
