#!/usr/bin/env bash
# flotilla account create and close against the AWS stand-in's Organizations
# (tests/servers/aws_standin.py): a tenant declared with account: pending
# gets a new account, moved into an OU, whose id is committed on a branch of
# its own, checked with the real git; a second create, a taken email, a
# tenant that has its account and an undeclared one are refused; closing is
# refused without a decommission receipt and without a matching --confirm,
# and done once a real decommission rollout (dir driver) recorded one. The
# stand-in's log proves what was sent, and how often. Needs python3-botocore
# (ci/setup.sh): without it this test fails, it never skips.
source "$(dirname "$0")/lib.sh"

start_aws_standin
PY=$STANDIN_PY
ENDPOINT=$AWS_STANDIN

state() { curl -sS "$ENDPOINT/_state"; }
acted() { curl -sS "$ENDPOINT/_log"; }
# acted_count OP: how many times the stand-in acted on OP.
acted_count() { acted | "$PY" -c 'import json, sys; print(sum(1 for l in sys.stdin if l.strip() and json.loads(l)["op"] == sys.argv[1]))' "$1"; }

# Only the environment's keys: nothing of the machine's AWS set-up is read.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_REGION AWS_ROLE_ARN \
	AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
	AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_CLOUDCONTROL
export AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE=$TMP/no-credentials
export AWS_ACCESS_KEY_ID=AKIDSTANDINBASE
export AWS_SECRET_ACCESS_KEY=standin-base-secret
export AWS_ENDPOINT_URL_ORGANIZATIONS=$ENDPOINT

# account ARGS...: run_fl, and no secret in what it printed.
account() {
	local want=$1
	shift
	run_fl "$want" account "$@"
	assert_not_contains "$OUT$ERR" "standin-base-secret"
}

FLEET=$TMP/fleet
run_fl 0 init "$FLEET"
git -C "$FLEET" config user.name "flotilla tests"
git -C "$FLEET" config user.email "tests@flotilla.invalid"
cat >"$FLEET/tenants/newco.yaml" <<'EOF'
# NewCo joins as a canary; its account is made by flotilla account create.
name: newco
account: pending   # replaced with the new account's id
regions: [us-east-1]
canary: true
services: [api]
vars: { display_name: "NewCo" }
EOF
cat >"$FLEET/tenants/dupco.yaml" <<'EOF'
name: dupco
account: 'pending-dupco'
regions: [eu-west-1]
services: [api]
vars: { display_name: "DupCo" }
EOF
commit "$FLEET" "Declare newco and dupco, waiting for their accounts"
BASE=$(git -C "$FLEET" symbolic-ref --short HEAD)
MAIN=$(git -C "$FLEET" rev-parse HEAD)
TREE_BEFORE=$(tree_sum "$FLEET/tenants")

# ---- arguments refused before anything is read or sent ----
account 2 create newco --email not-an-email --repo "$FLEET"
assert_contains "$ERR" "invalid --email 'not-an-email'"
account 2 create NewCo --email newco@example.com --repo "$FLEET"
assert_contains "$ERR" "invalid tenant name 'NewCo'"
account 2 create newco --email newco@example.com --ou root --repo "$FLEET"
assert_contains "$ERR" "invalid --ou 'root'"
account 2 create newco --repo "$FLEET"
assert_contains "$ERR" "--email is required"
account 2 create newco --email newco@example.com --repo https://example.invalid/fleet.git
assert_contains "$ERR" "--repo must be a local repository"
account 1 create ghost --email ghost@example.com --repo "$FLEET"
assert_contains "$ERR" "tenant 'ghost' is not declared: commit tenants/ghost.yaml with account: pending first"
account 1 create acme-test --email acme@example.com --repo "$FLEET"
assert_contains "$ERR" "tenant 'acme-test' has AWS account 100000000001 already"
assert_eq "$(state | "$PY" -c 'import json, sys; print(sum(json.load(sys.stdin)["counts"].values()))')" 0

# ---- create: the account, moved into the OU, its id committed on a new branch ----
account 0 create newco --email newco@example.com --ou ou-st4n-aaaaaaaa --repo "$FLEET"
assert_contains "$OUT" "creating AWS account 'newco' for tenant newco (request car-"
assert_contains "$OUT" "created AWS account 900000000001"
assert_contains "$OUT" "moved account 900000000001 into ou-st4n-aaaaaaaa"
assert_contains "$OUT" "on branch flotilla/account/newco"
assert_contains "$OUT" "git push origin flotilla/account/newco"
BRANCH=flotilla/account/newco
# The branch holds one commit on top of the current branch, changing the account line only.
assert_eq "$(git -C "$FLEET" rev-parse "$BRANCH^")" "$MAIN"
assert_eq "$(git -C "$FLEET" rev-parse "$BASE")" "$MAIN"
assert_eq "$(git -C "$FLEET" symbolic-ref --short HEAD)" "$BASE"
assert_eq "$(git -C "$FLEET" diff --name-only "$BASE" "$BRANCH")" "tenants/newco.yaml"
assert_eq "$(git -C "$FLEET" diff "$BASE" "$BRANCH" | grep '^[-+][^-+]')" '-account: pending   # replaced with the new account'"'"'s id
+account: "900000000001"   # replaced with the new account'"'"'s id'
assert_contains "$(git -C "$FLEET" log -1 --format=%B "$BRANCH")" "Onboard tenant newco: AWS account 900000000001"
assert_eq "$(tree_sum "$FLEET/tenants")" "$TREE_BEFORE"
assert_eq "$(git -C "$FLEET" status --porcelain)" ""
# The branch's fleet is valid, with the new account.
run_fl 0 validate --repo "$FLEET" --rev "$BRANCH"
# Organizations made it once, and moved it from the root into the OU.
assert_eq "$(acted_count CreateAccount)" 1
assert_eq "$(acted_count MoveAccount)" 1
assert_json "$(state)" "the stand-in's organization" '
a = d["organization"]["accounts"]["900000000001"]
assert a["Name"] == "newco" and a["Email"] == "newco@example.com", a
assert a["Parent"] == "ou-st4n-aaaaaaaa", a
assert a["Status"] == "ACTIVE", a'

# ---- a second create for newco is refused before any call ----
account 1 create newco --email newco2@example.com --repo "$FLEET"
assert_contains "$ERR" "branch 'flotilla/account/newco' exists already"
assert_eq "$(acted_count CreateAccount)" 1

# ---- a taken email: Organizations fails the request, and nothing is committed ----
account 1 create dupco --email newco@example.com --name "DupCo Ltd" --repo "$FLEET"
assert_contains "$ERR" "Organizations did not create the account: EMAIL_ALREADY_EXISTS: an AWS account with this email exists already"
assert_not_contains "$(git -C "$FLEET" branch --list 'flotilla/account/*')" dupco
assert_eq "$(acted_count CreateAccount)" 1

# ---- merged, the tenant with its account is refused a second account ----
git -C "$FLEET" merge -q --ff-only "$BRANCH"
account 1 create newco --email newco3@example.com --repo "$FLEET"
assert_contains "$ERR" "tenant 'newco' has AWS account 900000000001 already"

# ---- close: refused without a receipt, or with a --confirm that is not the tenant ----
account 2 close newco --confirm newc0 --repo "$FLEET"
assert_contains "$ERR" "--confirm 'newc0' is not 'newco'"
account 2 close newco --repo "$FLEET"
assert_contains "$ERR" "--confirm is required"
run_fl 0 apply --repo "$FLEET" --tenant newco --driver "dir:$TMP/accounts"
account 1 close newco --confirm newco --repo "$FLEET"
assert_contains "$ERR" "tenant 'newco' has no decommission receipt in the ledger (refs/notes/flotilla-tenants)"
assert_contains "$ERR" "set state: decommissioned in its tenant file and run flotilla apply first"
assert_eq "$(acted_count CloseAccount)" 0

# ---- decommissioned by a real rollout, then closed ----
printf 'state: decommissioned\n' >>"$FLEET/tenants/newco.yaml"
commit "$FLEET" "Decommission newco"
DECOM=$(git -C "$FLEET" rev-parse HEAD)
# newco's resources are all the accounts hold: past the guard's 10%.
run_fl 0 apply --repo "$FLEET" --tenant newco --allow-mass-delete --driver "dir:$TMP/accounts"
assert_note "$FLEET" "$DECOM" "the decommission receipt" '
r = d["tenants"]["newco"]["decommission_receipt"]
assert len(r["deleted"]) > 0, r'
# Later commits do not hide the receipt: the tenant file may even go.
git -C "$FLEET" rm -q tenants/newco.yaml
git -C "$FLEET" commit -q -m "newco is gone"
account 0 close newco --confirm newco --repo "$FLEET"
assert_contains "$OUT" "closed AWS account 900000000001 of tenant newco (decommissioned by commit ${DECOM:0:12}"
assert_eq "$(acted_count CloseAccount)" 1
assert_json "$(state)" "the closed account" '
assert d["organization"]["accounts"]["900000000001"]["Status"] == "SUSPENDED", d["organization"]'
# Closing again is harmless.
account 0 close newco --confirm newco --repo "$FLEET"
assert_contains "$OUT" "AWS account 900000000001 of tenant newco is closed already"
assert_eq "$(acted_count CloseAccount)" 1

echo "aws_account: ok"
