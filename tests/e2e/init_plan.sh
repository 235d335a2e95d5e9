#!/usr/bin/env bash
# A new user's first minutes: init an example fleet, validate it, plan it
# against empty accounts (every resource a create), in every output format.
source "$(dirname "$0")/lib.sh"

# Even where git's own default branch is another one.
git config --global init.defaultBranch master
run_fl 0 init "$TMP/f"
assert_contains "$OUT" "8 tenants in 3 waves"
# The branch and the accounts directory the README's quick start names.
assert_eq "$(git -C "$TMP/f" rev-parse --abbrev-ref HEAD)" main
assert_contains "$OUT" "Next: cd $TMP/f && flotilla validate && flotilla plan --driver dir:/tmp/acc"
grep -qF 'flotilla plan --driver dir:/tmp/acc' "$FL_SOURCE/README.md" || fail "README's quick start no longer matches init's hint"
[ "$(git -C "$TMP/f" rev-list --count HEAD)" = 1 ] || fail "init should make exactly one commit"
[ -z "$(git -C "$TMP/f" status --porcelain)" ] || fail "init should leave a clean work tree"
run_fl 1 init "$TMP/f"
assert_contains "$ERR" "not empty"

cd "$TMP/f"
run_fl 0 validate
assert_contains "$OUT" "is valid: 8 tenants"
assert_contains "$OUT" "canary 2"

run_fl 0 plan --driver "dir:$TMP/acc"
assert_contains "$OUT" "Plan of fleet demo at $(git rev-parse HEAD)"
assert_contains "$OUT" "tenant acme-test (wave canary, account 100000000001) [new account: bootstrap]"
assert_not_contains "$OUT" "    ~ "
assert_not_contains "$OUT" "    - "
creates=$(grep -c '^    + ' "$OUT_FILE")
# Resources of the example: 2 everywhere + api/portal/reports by subscription,
# per region: acme 5, globex 4, initech 2x5, umbrella 3, hooli 2x5, stark 4, wayne 3, wonka 4.
[ "$creates" = 43 ] || fail "expected 43 creates, got $creates"
assert_contains "$OUT" "Plan: 8 tenants change: +43 ~0 -0"
[ ! -e "$TMP/acc" ] || fail "plan must not write to accounts"

run_fl 3 plan --driver "dir:$TMP/acc" --detailed-exitcode

run_fl 0 plan --driver "dir:$TMP/acc" --format json
python3 - "$OUT_FILE" "$(git rev-parse HEAD)" <<'PY' || fail "JSON plan does not match its schema"
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["revision"] == sys.argv[2], plan["revision"]
s = plan["summary"]
assert (s["tenants_changed"], s["creates"], s["updates"], s["deletes"]) == (8, 43, 0, 0), s
assert [t["name"] for t in plan["tenants"]] == sorted(t["name"] for t in plan["tenants"])
waves = {t["name"]: t["wave"] for t in plan["tenants"]}
assert waves["acme-test"] == "canary" and waves["initech"] == "early" and waves["hooli"] == "fleet", waves
hooli = next(t for t in plan["tenants"] if t["name"] == "hooli")
assert [r["region"] for r in hooli["regions"]] == ["us-west-2", "ap-southeast-2"]
for t in plan["tenants"]:
    for r in t["regions"]:
        for c in r["changes"]:
            assert c["op"] == "create" and c["diff"] == [] and len(c["new_fingerprint"]) == 32, c
PY

run_fl 0 plan --driver "dir:$TMP/acc" --format markdown
assert_matches "$OUT" '^### flotilla plan for `[0-9a-f]{40}`'
assert_contains "$OUT" "**8 tenants change: +43 ~0 -0**"
assert_contains "$OUT" '```diff'

run_fl 0 plan --driver "dir:$TMP/acc" --tenant wonka --tenant stark
assert_contains "$OUT" "Plan: 2 tenants change: +8 ~0 -0"
run_fl 1 plan --driver "dir:$TMP/acc" --tenant nosuch
assert_contains "$ERR" "unknown tenant 'nosuch'"
run_fl 2 plan --format yaml
run_fl 2 plan --no-such-flag
run_fl 0 plan --help
assert_contains "$OUT" "--detailed-exitcode"
