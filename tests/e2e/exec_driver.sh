#!/usr/bin/env bash
# The exec driver end to end (SPEC 8, docs/drivers.md "exec"): the example
# fleet rolled out through fixtures/drivers/git-accounts, which keeps each
# account as a git repository; then the plan is empty. A failing program's
# stderr reaches the user.
source "$(dirname "$0")/lib.sh"

export FLOTILLA_GIT_ACCOUNTS=$TMP/acc
DRV="exec:$FL_FIXTURES/drivers/git-accounts"

run_fl 0 init "$TMP/f"
cd "$TMP/f"
REV=$(git rev-parse HEAD)

run_fl 0 plan --driver "$DRV"
assert_contains "$OUT" "tenant acme-test (wave canary, account 100000000001) [new account: bootstrap]"
assert_contains "$OUT" "Plan: 8 tenants change: +43 ~0 -0"
[[ ! -e $TMP/acc ]] || fail "plan must not write to accounts"

# The canaries go first; the early ring waits behind its manual gate.
run_fl 5 apply --driver "$DRV"
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
[[ -d $TMP/acc/100000000001/.git ]] || fail "the canary's account is not a git repository"
[[ ! -e $TMP/acc/100000000003 ]] || fail "the early ring was applied before its promotion"

run_fl 0 promote HEAD --wave early -m "canaries look fine"
run_fl 0 apply --driver "$DRV"
assert_contains "$OUT" "rollout done"

# Every account: a clean repository whose history is the rollout.
for n in 1 2 3 4 5 6 7 8; do
	repo=$TMP/acc/10000000000$n
	[[ -z $(git -C "$repo" status --porcelain) ]] || fail "$repo has uncommitted changes"
	log=$(git -C "$repo" log --format=%s)
	assert_contains "$log" "flotilla: bootstrap account 10000000000$n for tenant"
	assert_matches "$log" "^flotilla: apply ${REV:0:12} to [a-z0-9-]+ \(\+[0-9]+ -0\)$"
done
initech=$TMP/acc/100000000003
assert_eq "$(git -C "$initech" rev-list --count HEAD)" 3
assert_eq "$(git -C "$initech" log -1 --format=%an)" "flotilla"
assert_json "$initech/us-east-1/flotilla.json" "initech's marker in us-east-1" '
assert d["marker"]["revision"] == "'"$REV"'", d
assert d["marker"]["resources"] == 5, d
assert d["managed"] == ["network/vpc", "bucket/uploads", "service/api", "service/portal", "job/nightly-reports"], d["managed"]
'
assert_json "$initech/eu-west-1/service/api.json" "initech's api in eu-west-1" '
assert d["env"] == {"TENANT": "initech", "TITLE": "Initech", "REGION": "eu-west-1"}, d
assert d["seats"] == 250, d
'

# Converged: nothing to plan, nothing to apply.
run_fl 0 plan --driver "$DRV" --detailed-exitcode
assert_contains "$OUT" "no changes"
before=$(git -C "$initech" rev-list --count HEAD)
run_fl 0 apply --driver "$DRV"
assert_eq "$(git -C "$initech" rev-list --count HEAD)" "$before"

# A program that fails: its exit code and the end of its stderr, per tenant.
cat >"$TMP/broken" <<'SH'
#!/bin/sh
cat >/dev/null
echo "aws: error: no credentials for $1" >&2
exit 2
SH
chmod +x "$TMP/broken"
run_fl 1 plan --driver "exec:$TMP/broken {{tenant.account}}" --tenant wonka
assert_contains "$OUT$ERR" "driver '$TMP/broken' failed (exit 2) on identity of tenant 'wonka': aws: error: no credentials for 100000000008"
