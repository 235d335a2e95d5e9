#!/usr/bin/env bash
# The aws driver's own identity check (SPEC 8a), behind the engine's: the
# role's credentials expire within 5 minutes, so the driver assumes the role
# again for every operation and asks GetCallerIdentity again each time. The
# role starts landing in another account after the engine's check has
# passed; the driver notices before anything is written, and neither
# account holds anything. A driver that trusted the engine's one check would
# write into the wrong account here.
source "$(dirname "$0")/lib.sh"

start_aws_standin --log "$TMP/ops.log" --config '{"expiration": 200}'

standin_aws_env keys

git_repo "$TMP/f"
cd "$TMP/f"
mkdir tenants release
cat >fleet.yaml <<'EOF'
version: 1
name: aws-identity
waves:
  - { name: all, select: rest, max_parallel: 1 }
driver: { type: aws, role: "arn:aws:iam::{{tenant.account}}:role/deploy", poll_interval: 0s }
EOF
printf 'kind: AWS::SSM::Parameter\nname: config\nspec: { Name: /app/config, Type: String, Value: v1 }\n' >release/app.yaml
printf 'name: solo\naccount: "400000000001"\nregions: [us-east-1]\n' >tenants/solo.yaml
commit . "one account"

# The role lands elsewhere from the sixth time it is assumed on (each
# operation assumes it afresh, its credentials being about to expire): the
# first five serve the engine's identity checks and the plans' reads before
# the wave's writes begin, where the engine would notice by itself. Should
# the engine's sequence change, this test fails loudly (with the engine's
# message instead of the driver's) rather than passing by accident.
standin_config '{"wrong_account": {"400000000001": "400000000099"}, "wrong_account_from": {"400000000001": 6}}'
run_fl 4 apply
assert_contains "$OUT$ERR" "the role lands in account 400000000099, but the manifest names 400000000001: nothing is written"
assert_not_contains "$OUT$ERR" "the account reports id"
[[ ! -s $TMP/ops.log ]] || fail "something was written: $(cat "$TMP/ops.log")"
assert_eq "$(curl -sS "$AWS_STANDIN/_state" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["accounts"]))')" "[]"
