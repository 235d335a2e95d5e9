#!/usr/bin/env bash
# on_failure: rollback through the exec driver (fixtures/drivers/git-accounts,
# each account a git repository): a canary whose verify fails at B is written
# back to A's resources, markers at A, checked with A's verify; the rollout
# halts; a plain rerun leaves it alone and apply --tenant tries B again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rollback_scenario.bash"

export FLOTILLA_GIT_ACCOUNTS=$TMP/acc
# The program through the system python3 where there is one: a version
# manager's shim, started for every call, made this test take minutes.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
DRIVER="exec:$PY $FL_FIXTURES/drivers/git-accounts"
image() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["image"])' \
	"$FLOTILLA_GIT_ACCOUNTS/$1/$2/service/api.json"; }
marker_rev() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["marker"]["revision"])' \
	"$FLOTILLA_GIT_ACCOUNTS/$1/$2/flotilla.json"; }
# Every apply is a commit of the account's repository: its head and a clean tree say untouched.
account_sum() {
	[[ -d $FLOTILLA_GIT_ACCOUNTS/$1 ]] || { echo -; return; }
	git -C "$FLOTILLA_GIT_ACCOUNTS/$1" rev-parse HEAD
	git -C "$FLOTILLA_GIT_ACCOUNTS/$1" status --porcelain
}

rb_core "$TMP/f"
# The rollback is one more commit of canary-b's account, A's resources in it.
log=$(git -C "$FLOTILLA_GIT_ACCOUNTS/100000000002" log --format=%s)
assert_eq "$(printf "%s\n" "$log" | head -n 2 | sed "s/ (.*//" | sort | tr "\n" ,)" "flotilla: apply ${A:0:12} to eu-west-1,flotilla: apply ${A:0:12} to us-east-1,"
rb_retry "$TMP/f"
