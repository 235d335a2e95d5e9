#!/usr/bin/env bash
# Supersede is decided by where the accounts are relative to the commit
# rolled out, so git failing to tell must fail the rollout (exit 1, naming
# the tenant and the commit) and leave the accounts alone, never read as
# "not newer", which rolled them back: an account at a commit this clone
# lacks, and at one whose history it lacks.
source "$(dirname "$0")/lib.sh"

F=$TMP/fleet
git_repo "$F"
mkdir -p "$F/release" "$F/tenants"
cat >"$F/fleet.yaml" <<'YAML'
version: 1
name: gitfail
waves:
  - name: fleet
    select: rest
YAML
printf 'kind: config\nname: app\nspec: { version: "1" }\n' >"$F/release/app.yaml"
printf 'name: t1\naccount: "100000000001"\nregions: [us-east-1]\n' >"$F/tenants/t1.yaml"
commit "$F" "v1"
C1=$(git -C "$F" rev-parse HEAD)
for v in 2 3; do
	printf 'kind: config\nname: app\nspec: { version: "%s" }\n' "$v" >"$F/release/app.yaml"
	commit "$F" "v$v"
done
C2=$(git -C "$F" rev-parse HEAD~1)
C3=$(git -C "$F" rev-parse HEAD)
ACC=$TMP/acc
run_fl 0 apply --repo "$F" --driver "dir:$ACC"
assert_matches "$(marker_line "$ACC/100000000001/us-east-1.state")" "^marker $C3 "

# The history between the accounts' commit and the one rolled out is gone.
# (libgit2 1.5 leaks a queue when a walk meets a missing commit: not ours.)
git -C "$F" checkout -q "$C1"
rm "$F/.git/objects/${C2:0:2}/${C2:2}"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}fast_unwind_on_malloc=0:suppressions=$FL_SOURCE/tests/lsan-libgit2-walk.supp" \
	run_fl 1 apply --repo "$F" --driver "dir:$ACC"
assert_contains "$ERR" "error: tenant 't1': region 'us-east-1': the account's marker names ${C3:0:12}: "
assert_matches "$(marker_line "$ACC/100000000001/us-east-1.state")" "^marker $C3 "

# The accounts' commit itself is gone.
git -C "$F" update-ref refs/heads/main "$C1"
git -C "$F" reflog expire --expire=now --all
git -C "$F" gc -q --prune=now
! git -C "$F" cat-file -e "$C3" 2>/dev/null || fail "commit $C3 should be gone"
run_fl 1 apply --repo "$F" --driver "dir:$ACC"
assert_contains "$ERR" "error: tenant 't1': region 'us-east-1': the account's marker names ${C3:0:12}, a commit this repository does not have: fetch it, then run again"
assert_matches "$(marker_line "$ACC/100000000001/us-east-1.state")" "^marker $C3 "
