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

# The mass-delete guard weighs the deletes of the tenants --since plans
# against the whole fleet, as the full plan and apply do: one tenant's
# decommission (4 of 43 resources, under the 10% guard) passes all three,
# two (8 of 43) are refused by all three.
run_fl 0 init "$TMP/g"
cd "$TMP/g"
git config user.name "flotilla tests"
git config user.email "tests@flotilla.invalid"
run_fl 5 apply --driver "dir:$TMP/gacc"
run_fl 0 promote HEAD --wave early -m "canaries look fine"
run_fl 0 apply --driver "dir:$TMP/gacc"
sed -i '$a state: decommissioned' tenants/stark.yaml
commit . "stark leaves"
run_fl 0 plan --driver "dir:$TMP/gacc" --since HEAD~1
assert_contains "$OUT" "Plan: 1 tenant change: +0 ~0 -4"
assert_not_contains "$OUT" "refused"
run_fl 0 plan --driver "dir:$TMP/gacc"
assert_contains "$OUT" "Plan: 1 tenant change: +0 ~0 -4"
assert_not_contains "$OUT" "refused"
run_fl 0 plan --driver "dir:$TMP/gacc" --tenant stark
assert_contains "$OUT" "Plan: 1 tenant change: +0 ~0 -4"
assert_not_contains "$OUT" "refused"
# apply --tenant plans the one tenant too; not refused, it waits for the canaries.
run_fl 5 apply --driver "dir:$TMP/gacc" --tenant stark
assert_not_contains "$OUT" "refused"
sed -i 's/^state: .*/state: decommissioned/' tenants/wonka.yaml
commit . "wonka leaves too"
run_fl 1 plan --driver "dir:$TMP/gacc" --since HEAD~2
assert_contains "$OUT" "refused: the plan deletes 8 of 43 resources"
run_fl 1 plan --driver "dir:$TMP/gacc"
assert_contains "$OUT" "refused: the plan deletes 8 of 43 resources"
run_fl 1 plan --driver "dir:$TMP/gacc" --tenant stark --tenant wonka
assert_contains "$OUT" "refused: the plan deletes 8 of 43 resources"
run_fl 1 apply --driver "dir:$TMP/gacc" --tenant stark --tenant wonka
assert_contains "$OUT$ERR" "refused"

# A suspended tenant counts nothing in the denominator, whether the plan
# covers it (the full plan) or not (--since): with initech suspended, stark's
# 4 deletes are over the guard for both.
git reset -q --hard HEAD~2
sed -i '$a state: suspended' tenants/initech.yaml
commit . "initech suspended"
sed -i '$a state: decommissioned' tenants/stark.yaml
commit . "stark leaves while initech is suspended"
run_fl 1 plan --driver "dir:$TMP/gacc"
assert_matches "$OUT" '^refused: the plan deletes 4 of 3[0-9] resources'
full=$(grep '^refused' "$OUT_FILE")
run_fl 1 plan --driver "dir:$TMP/gacc" --since HEAD~1
assert_eq "$(grep '^refused' "$OUT_FILE")" "$full"

# A base whose release is broken (main went red) still gives the preview of
# the pull request that mends it its driver and statuses: the base's
# fleet.yaml alone is read, and every tenant is planned since the release
# changed.
cd "$TMP/f"
cp release/api.yaml "$TMP/api.yaml"
printf 'kind: service\nname: [unclosed\n' >release/api.yaml
commit . "a broken release"
run_fl 1 plan --driver "dir:$TMP/acc"
cp "$TMP/api.yaml" release/api.yaml
commit . "the release mended"
run_fl 0 plan --driver "dir:$TMP/acc" --since HEAD~1
assert_not_contains "$ERR" "does not load"
assert_contains "$OUT" "Plan: 7 tenants change"
# A base whose fleet.yaml is broken has no trusted driver: no preview.
printf 'version: 1\nwaves: 7\n' >fleet.yaml
commit . "a broken fleet.yaml"
git checkout -q HEAD~1 -- fleet.yaml
commit . "fleet.yaml mended"
run_fl 1 plan --driver "dir:$TMP/acc" --since HEAD~1
assert_contains "$ERR" "the fleet of --since"
assert_contains "$ERR" "does not load"
