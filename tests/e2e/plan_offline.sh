#!/usr/bin/env bash
# plan --since BASE --offline (docs/commands.md, docs/design.md "Offline
# plans"): a pull request from a fork has no credentials, so the plan reads no
# account: each is taken to hold what BASE renders. It never starts fleet.yaml's
# driver, needs no AWS variable, says it is offline, and shows what a plan
# against accounts rolled out at BASE shows.
source "$(dirname "$0")/lib.sh"

FLEET=$TMP/fleet
git_repo "$FLEET"
mkdir -p "$FLEET/release" "$FLEET/tenants"
# The exec driver's program leaves a file behind if it is ever started.
cat >"$TMP/driver.sh" <<SH
#!/bin/sh
touch "$TMP/exec-ran"
echo '{"unsupported": true}'
SH
chmod +x "$TMP/driver.sh"
cat >"$FLEET/fleet.yaml" <<YAML
version: 1
name: offco
vars:
  display_name: { type: string, required: true }
  seats: { type: integer, min: 1, default: 10 }
services: [api, extra]
waves:
  - { name: all, select: rest }
prune: false
guard: { max_delete_percent: 20 }
driver: { type: exec, command: ["$TMP/driver.sh"] }
YAML
cat >"$FLEET/release/app.yaml" <<'YAML'
kind: service
name: api
service: api
spec: { image: "app:1.0", seats: "{{vars.seats}}", title: "{{vars.display_name}}" }
---
kind: config
name: base
spec: { tenant: "{{tenant.name}}", region: "{{region}}" }
YAML
tenant() { # NAME ACCOUNT REGIONS SERVICES [EXTRA]
	printf 'name: %s\naccount: "%s"\nregions: [%s]\nservices: [%s]\nvars: { display_name: %s%s }\n' \
		"$1" "$2" "$3" "$4" "$1" "${5:-}" >"$FLEET/tenants/$1.yaml"
}
tenant alpha 100000000001 "us-east-1, eu-west-1" "api, extra"
tenant bravo 100000000002 "us-east-1" "api"
tenant charlie 100000000003 "us-east-1" "api"
tenant delta 100000000004 "eu-west-1" "api"
commit "$FLEET" "base fleet"
base=$(git -C "$FLEET" rev-parse HEAD)
short=${base:0:7}

# The head: bravo gets more seats, a resource only alpha subscribes to joins
# the release, echo arrives, charlie leaves.
tenant bravo 100000000002 "us-east-1" "api" ", seats: 20"
cat >"$FLEET/release/extra.yaml" <<'YAML'
kind: job
name: extra-job
service: extra
spec: { schedule: daily }
YAML
tenant echo 100000000005 "eu-west-1" "api"
git -C "$FLEET" rm -q tenants/charlie.yaml
commit "$FLEET" "the change under review"

run_fl 0 plan --repo "$FLEET" --since "$base" --offline --format json
[[ ! -e $TMP/exec-ran ]] || fail "plan --offline started the exec driver"
assert_contains "$ERR" "tenants/charlie.yaml' was removed: its account is left untouched"
cp "$OUT_FILE" "$TMP/offline.json"
assert_json "$OUT_FILE" "plan --offline: the changes the head makes to BASE's rendering" '
def key(t):
    return (t["name"], t["outcome"], t["bootstrap"],
            [(r["region"], r["in_manifest"], r["withheld_deletes"],
              [(c["op"], c["kind"], c["name"], c["diff"]) for c in r["changes"]])
             for r in t["regions"]])
got = [key(t) for t in d["tenants"]]
want = [
    ("alpha", "changes", False, [
        ("us-east-1", True, 0, [("create", "job", "extra-job", [])]),
        ("eu-west-1", True, 0, [("create", "job", "extra-job", [])])]),
    ("bravo", "changes", False, [
        ("us-east-1", True, 0, [("update", "service", "api", [{"new": 20, "old": 10, "path": "seats"}])])]),
    ("echo", "changes", True, [
        ("eu-west-1", True, 0, [("create", "service", "api", []), ("create", "config", "base", [])])]),
]
assert got == want, got
assert d["since"] == {"base": "'"$base"'", "driver_changed": False, "offline": True,
                      "status_changed": False, "verify_changed": []}, d["since"]
assert d["summary"] == {"creates": 4, "deletes": 0, "mass_delete": False, "resources": 12,
                        "tenants": 4, "tenants_changed": 3, "tenants_failed": 0, "tenants_suspended": 0,
                        "unmanaged": 0, "updates": 1, "withheld_deletes": 0}, d["summary"]'

run_fl 0 plan --repo "$FLEET" --since "$base" --offline
assert_contains "$OUT" "offline: compared with what $short renders; no account was read"
assert_contains "$OUT" "tenant echo (wave all, account 100000000005) [new account: bootstrap]"
assert_contains "$OUT" "Plan: 3 tenants change: +4 ~1 -0"
run_fl 0 plan --repo "$FLEET" --since "$base" --offline --format markdown
assert_contains "$OUT" "> offline: compared with what \`$short\` renders; no account was read"
run_fl 3 plan --repo "$FLEET" --since "$base" --offline --detailed-exitcode
[[ ! -e $TMP/exec-ran ]] || fail "plan --offline started the exec driver"
# An offline plan is not the plan of the accounts: it sets no status.
[[ -z $(note "$FLEET" HEAD) ]] || fail "plan --offline wrote a status: $(note "$FLEET" HEAD)"

# A remote --repo: the same plan, from the fetched cache's objects.
FLOTILLA_CACHE_DIR=$TMP/cache run_fl 0 plan --repo "file://$FLEET" --since "$base" --offline --format json
cmp -s "$OUT_FILE" "$TMP/offline.json" || fail "plan --offline of a remote repository differs: $OUT"
[[ ! -e $TMP/exec-ran ]] || fail "plan --offline started the exec driver"

# The same plan as one against accounts that BASE was rolled out to, but for
# saying it is offline: BASE's rendering is what those accounts hold.
run_fl 0 apply --repo "$FLEET" --rev "$base" --driver "dir:$TMP/acc"
run_fl 0 plan --repo "$FLEET" --since "$base" --driver "dir:$TMP/acc" --format json
python3 - "$TMP/offline.json" "$OUT_FILE" <<'PY' || fail "plan --offline differs from the plan against accounts at BASE"
import json, sys
off, real = (json.load(open(p)) for p in sys.argv[1:])
del off["since"]["offline"]
assert off == real, (off, real)
PY

# Usage: --offline needs --since, and takes no --driver.
run_fl 2 plan --repo "$FLEET" --offline
assert_contains "$ERR" "--offline needs --since BASE"
run_fl 2 plan --repo "$FLEET" --since "$base" --offline --driver "dir:$TMP/acc"
assert_contains "$ERR" "--driver cannot be combined with it"

# Only some tenants planned: the mass-delete guard still weighs the whole
# fleet, whose other accounts hold what BASE renders (1 of 12 resources deleted
# is under 20%; weighed against delta's own 2 it would be refused).
git -C "$FLEET" checkout -q -b shrink "$base"
tenant delta 100000000004 "eu-west-1" "extra"
commit "$FLEET" "delta leaves api"
run_fl 0 plan --repo "$FLEET" --since "$base" --offline --prune --format json
assert_json "$OUT_FILE" "plan --offline: one tenant, weighed against the fleet" '
assert [t["name"] for t in d["tenants"]] == ["delta"], d["tenants"]
assert d["summary"]["deletes"] == 1 and d["summary"]["mass_delete"] is False, d["summary"]'

# A tenant moved to another account: the head's account is new (as a driver
# would find it), not an identity mismatch with BASE's.
git -C "$FLEET" checkout -q -b move "$base"
tenant bravo 100000000009 "us-east-1" "api"
commit "$FLEET" "bravo moves"
run_fl 0 plan --repo "$FLEET" --since "$base" --offline
assert_contains "$OUT" "tenant bravo (wave all, account 100000000009) [new account: bootstrap]"
assert_contains "$OUT" "Plan: 1 tenant change: +2 ~0 -0"

# The aws driver in fleet.yaml and no AWS variable at all: still a plan.
git -C "$FLEET" checkout -q main
sed -i 's|^driver: .*|driver: { type: aws, role: "arn:aws:iam::{{tenant.account}}:role/deploy" }|' "$FLEET/fleet.yaml"
commit "$FLEET" "the aws driver"
awsbase=$(git -C "$FLEET" rev-parse HEAD)
tenant delta 100000000004 "eu-west-1" "api" ", seats: 3"
commit "$FLEET" "delta's seats"
got=0
env -i PATH="$PATH" HOME="$HOME" "$FLOTILLA" plan --repo "$FLEET" --since "$awsbase" --offline \
	>"$OUT_FILE" 2>"$ERR_FILE" || got=$?
[[ $got == 0 ]] || fail "plan --offline without AWS variables exited $got: $(cat "$ERR_FILE")"
assert_contains "$OUT_FILE" "offline: compared with what ${awsbase:0:7} renders; no account was read"
assert_contains "$OUT_FILE" "Plan: 1 tenant change: +0 ~1 -0"
