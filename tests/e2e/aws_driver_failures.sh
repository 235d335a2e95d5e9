#!/usr/bin/env bash
# The aws driver when AWS says no (SPEC 8a), against tests/servers/aws_standin.py:
#   - a create that ends FAILED fails its tenant with the service's ErrorCode
#     and StatusMessage; what was created before it stays on record in the
#     state parameter (the old marker kept), so the rerun creates only the
#     rest and nothing twice;
#   - throttling is retried until it passes;
#   - a role that may not be assumed (a wrong external id) fails its tenant
#     with STS's answer and writes nothing;
#   - temporary credentials near their expiry are assumed again;
#   - --driver aws:ROLE-TEMPLATE stands for { type: aws, role: ... };
#   - no secret appears in any output.
source "$(dirname "$0")/lib.sh"

start_aws_standin --log "$TMP/ops.log"
BASE=$AWS_STANDIN
# logged OP ACCOUNT TYPE: how many times the stand-in acted on OP for TYPE in ACCOUNT.
logged() {
	python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if l.strip() and (lambda d: d["op"] == sys.argv[2] and d["account"] == sys.argv[3] and d["type"] == sys.argv[4])(json.loads(l))))' \
		"$TMP/ops.log" "$@"
}
count() { curl -sS -f "$BASE/_state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"].get(sys.argv[1], 0))' "$1"; }

# Long-term base keys from the environment this time.
standin_aws_env keys

git_repo "$TMP/f"
cd "$TMP/f"
mkdir tenants release
cat >fleet.yaml <<'EOF'
version: 1
name: aws-failures
waves:
  - name: all
    select: rest
    max_parallel: 2
    failure_tolerance: 3
prune: true
driver: { type: aws, role: "arn:aws:iam::{{tenant.account}}:role/deploy", external_id: "x-{{tenant.name}}", poll_interval: 0s }
EOF
cat >release/app.yaml <<'EOF'
kind: AWS::SSM::Parameter
name: config
spec: { Name: "/app/{{tenant.name}}", Type: String, Value: "v1" }
---
kind: AWS::SQS::Queue
name: jobs
spec: { QueueName: "{{tenant.name}}-jobs" }
EOF
for t in alpha:300000000001 bravo:300000000002 charlie:300000000003; do
	printf 'name: %s\naccount: "%s"\nregions: [us-east-1]\n' "${t%%:*}" "${t#*:}" >"tenants/${t%%:*}.yaml"
done
commit . "three accounts"
standin_config '{"role_external_ids": {"arn:aws:iam::300000000001:role/deploy": "x-alpha",
  "arn:aws:iam::300000000002:role/deploy": "x-bravo", "arn:aws:iam::300000000003:role/deploy": "not-x-charlie"},
  "fail_create": {"AWS::SQS::Queue/bravo-jobs": "ServiceLimitExceeded: too many queues in this account"},
  "throttle_every": 5}'

# Two failures are within the wave's tolerance: the rollout goes on (exit 0).
run_fl 0 apply
# The FAILED create: bravo fails with the service's words; its parameter was created and is on record.
assert_contains "$OUT$ERR" "bravo"
note . HEAD >"$TMP/note.json"
python3 - "$TMP/note.json" <<'EOF' || fail "the note does not say why bravo and charlie failed: $(cat "$TMP/note.json")"
import json, sys
t = json.load(open(sys.argv[1]))["tenants"]
assert t["alpha"]["result"] == "applied", t["alpha"]
assert t["bravo"]["result"] == "failed", t["bravo"]
assert "AWS::SQS::Queue/jobs: ServiceLimitExceeded: too many queues in this account" in t["bravo"]["error"], t["bravo"]
# charlie: the wrong external id: STS refused, nothing written.
assert t["charlie"]["result"] == "failed", t["charlie"]
assert "AccessDenied" in t["charlie"]["error"] and "sts:AssumeRole" in t["charlie"]["error"], t["charlie"]
EOF
curl -sS "$BASE/_state" >"$TMP/state.json"
python3 - "$TMP/state.json" <<'EOF' || fail "the accounts do not hold what they should: $(cat "$TMP/state.json")"
import json, sys
s = json.load(open(sys.argv[1]))["accounts"]
assert "300000000003" not in s, "charlie's account was written"
bravo = s["300000000002"]["us-east-1"]
assert list(bravo.get("AWS::SQS::Queue", {})) == [], bravo
state = json.loads(bravo["AWS::SSM::Parameter"]["/flotilla/state"]["Value"])
assert state["marker"] is None, state
assert [r["name"] for r in state["resources"]] == ["config"], state
assert state["resources"][0]["id"] == "/app/bravo", state
EOF
# Every fifth request was throttled, and alpha (some fifteen requests) still
# applied: throttling is retried.

# The causes removed: the rerun converges, creating only what was missing.
standin_config '{"fail_create": {}, "role_external_ids": {"arn:aws:iam::300000000001:role/deploy": "x-alpha",
  "arn:aws:iam::300000000002:role/deploy": "x-bravo", "arn:aws:iam::300000000003:role/deploy": "x-charlie"}}'
run_fl 0 apply
run_fl 0 plan --detailed-exitcode
assert_contains "$OUT" "no changes: 3 tenants converged"
assert_eq "$(logged CreateResource 300000000002 AWS::SQS::Queue)" "1"
assert_eq "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["op"] == "CreateResource" and json.loads(l)["identifier"] == "/app/bravo"))' "$TMP/ops.log")" "1"

# Credentials that expire within 5 minutes are assumed again for every use.
standin_config '{"expiration": 200, "throttle_every": 0}'
before=$(count sts.AssumeRole)
sed -i 's/Value: "v1"/Value: "v2"/' release/app.yaml
commit . "v2"
run_fl 0 apply
after=$(count sts.AssumeRole)
(((after - before) > 3)) || fail "credentials about to expire were not assumed again ($before -> $after AssumeRole)"
assert_eq "$(logged UpdateResource 300000000001 AWS::SSM::Parameter)" "2"

# --driver aws:ROLE-TEMPLATE: a role without the external id is refused for every tenant.
standin_config '{"expiration": null}'
run_fl 1 plan --driver 'aws:arn:aws:iam::{{tenant.account}}:role/deploy'
assert_contains "$OUT" "tenant alpha (wave all, account 300000000001): failed: aws identity of tenant 'alpha': assuming role arn:aws:iam::300000000001:role/deploy: STS AssumeRole: 403 AccessDenied"

for f in "$OUT_FILE" "$ERR_FILE" "$TMP/note.json"; do
	assert_not_contains "$f" "standin-base-secret"
done
