#!/usr/bin/env bash
# --since plans only the tenants whose inputs changed: a tenant file, or
# everything when fleet.yaml or the release changed; removed tenants are
# reported and left alone.
source "$(dirname "$0")/lib.sh"

run_fl 0 init "$TMP/f"
cd "$TMP/f"
git config user.name "flotilla tests"
git config user.email "tests@flotilla.invalid"
base=$(git rev-parse HEAD)

sed -i 's/Wonka Dental/Wonka Dental Group/' tenants/wonka.yaml
commit . "rename wonka"
run_fl 0 plan --driver "dir:$TMP/acc" --since "$base"
assert_contains "$OUT" "tenant wonka"
assert_not_contains "$OUT" "tenant stark"
assert_contains "$OUT" "Plan: 1 tenant change"

git rm -q tenants/stark.yaml
commit . "stark leaves"
run_fl 0 plan --driver "dir:$TMP/acc" --since HEAD~1
assert_contains "$ERR" "tenants/stark.yaml' was removed: its account is left untouched"
assert_contains "$OUT" "no changes: 0 tenants converged"

sed -i 's/replicas: 2/replicas: 3/' release/api.yaml
commit . "more api replicas"
run_fl 0 plan --driver "dir:$TMP/acc" --since HEAD~1
assert_contains "$OUT" "Plan: 7 tenants change"

run_fl 1 plan --driver "dir:$TMP/acc" --since no-such-rev
assert_contains "$ERR" "no-such-rev"
