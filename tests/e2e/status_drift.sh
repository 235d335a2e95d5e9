#!/usr/bin/env bash
# Reading a rollout (SPEC 5, 7): `flotilla status` in text and JSON after a
# partial rollout, `apply --format json`, and `flotilla drift` finding and
# fixing a change made behind flotilla's back.
source "$(dirname "$0")/lib.sh"

# fleet DIR: 6 tenants in 3 waves: canary (canary-a, canary-b; tolerance 1;
# verify ci/check, which fails for canary-b), early (early-a, early-b; manual
# gate), fleet (f1, f2 in two regions).
fleet() {
	local dir=$1
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants" "$dir/ci"
	cat >"$dir/fleet.yaml" <<'EOF'
version: 1
name: status
vars:
  seats: { type: integer, min: 1, default: 10 }
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 1
    failure_tolerance: 1
    verify:
      - name: smoke
        run: ["ci/check"]
  - name: early
    select: { labels: { ring: early } }
    max_parallel: 50%
    gate: manual
  - name: fleet
    select: rest
    max_parallel: 2
EOF
	cat >"$dir/release/00-app.yaml" <<'EOF'
kind: network
name: vpc
spec: { cidr: "10.0.0.0/16" }
---
kind: service
name: api
spec:
  image: registry.example/api:1
  seats: "{{vars.seats}}"
  region: "{{region}}"
EOF
	cat >"$dir/ci/check" <<'EOF'
#!/bin/sh
if [ "$FLOTILLA_TENANT" = canary-b ]; then
	echo "canary-b: health check returned 503"
	exit 1
fi
echo "$FLOTILLA_TENANT: healthy"
EOF
	chmod +x "$dir/ci/check"
	printf 'name: canary-a\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' >"$dir/tenants/canary-a.yaml"
	printf 'name: canary-b\naccount: "100000000002"\nregions: [us-east-1]\ncanary: true\n' >"$dir/tenants/canary-b.yaml"
	printf 'name: early-a\naccount: "200000000001"\nregions: [us-east-1]\nlabels: { ring: early }\n' >"$dir/tenants/early-a.yaml"
	printf 'name: early-b\naccount: "200000000002"\nregions: [eu-west-1]\nlabels: { ring: early }\n' >"$dir/tenants/early-b.yaml"
	printf 'name: f1\naccount: "300000000001"\nregions: [eu-west-1]\nvars: { seats: 3 }\n' >"$dir/tenants/f1.yaml"
	printf 'name: f2\naccount: "300000000002"\nregions: [us-west-2, eu-west-1]\n' >"$dir/tenants/f2.yaml"
	commit "$dir" "fleet"
}

F=$TMP/f
ACC=$TMP/acc
fleet "$F"
cd "$F"
A=$(git rev-parse HEAD)

# ---- status of a commit nothing was rolled out for ----------------------------------
run_fl 0 status
assert_eq "$(sed -n 1p "$OUT_FILE")" "fleet status at $A"
assert_matches "$OUT" '^  flotilla/plan +- +no rollout recorded for this commit$'
assert_matches "$OUT" '^  wave/canary +- +not started$'
assert_matches "$OUT" '^  wave/early +- +not started$'
# The wave and the command that opens its gate, ready to copy.
assert_contains "$OUT" "2 tenants: 0 applied, 0 failed, 0 skipped; waits: promotion (flotilla promote ${A:0:12} --wave early)"
assert_not_contains "$OUT" "failed tenants"
run_fl 0 status --format json
assert_json "$OUT_FILE" "status --format json before any rollout" '
assert d["failed"] == [] and d["revision"] == "'"$A"'", d
assert [(w["name"], w["state"], w["description"], w["tenants"]) for w in d["waves"]] == [("canary", "none", "", 2), ("early", "none", "", 2), ("fleet", "none", "", 2)], d["waves"]
'
run_fl 2 status --format yaml
run_fl 1 status no-such-rev
assert_contains "$ERR" "no-such-rev"

# ---- a partial rollout: canary-b fails within tolerance, early awaits promotion -------
run_fl 5 apply --driver "dir:$ACC"
run_fl 0 status
cat >"$TMP/want" <<EOF
fleet status at $A
  flotilla/plan      success  6 tenants change: +14 ~0 -0
  wave/canary        success  applied 1/2, 1 failed (tolerance 1)
                              2 tenants: 1 applied, 1 failed, 0 skipped
  wave/early         pending  awaiting promotion
                              2 tenants: 0 applied, 0 failed, 0 skipped; waits: promotion (flotilla promote ${A:0:12} --wave early)
  wave/fleet         -        not started
                              2 tenants: 0 applied, 0 failed, 0 skipped
failed tenants:
  canary-b (wave canary): verify 'smoke' in us-east-1 exited with 1
    | canary-b: health check returned 503
EOF
diff -u "$TMP/want" "$OUT_FILE" >"$TMP/diff" || fail "status text after a partial rollout differs from what is expected:
$(cat "$TMP/diff")"

run_fl 0 status "$A" --format json
assert_json "$OUT_FILE" "status --format json after a partial rollout: schema, counts, the failed tenant with why" '
assert list(d) == ["failed", "revision", "waves"], list(d)
assert d["revision"] == "'"$A"'", d["revision"]
assert d["failed"] == [{"error": "verify '"'"'smoke'"'"' in us-east-1 exited with 1", "tenant": "canary-b", "verify_output": "canary-b: health check returned 503", "wave": "canary"}], d["failed"]
keys = ["applied", "awaiting_promotion", "bake_until", "description", "failed", "name", "skipped", "state", "tenants"]
for w in d["waves"]:
    assert list(w) == keys, list(w)
assert d["waves"][0] == {"applied": 1, "awaiting_promotion": False, "bake_until": "", "description": "applied 1/2, 1 failed (tolerance 1)", "failed": 1, "name": "canary", "skipped": 0, "state": "success", "tenants": 2}, d["waves"][0]
assert d["waves"][1] == {"applied": 0, "awaiting_promotion": True, "bake_until": "", "description": "awaiting promotion", "failed": 0, "name": "early", "skipped": 0, "state": "pending", "tenants": 2}, d["waves"][1]
assert d["waves"][2] == {"applied": 0, "awaiting_promotion": False, "bake_until": "", "description": "", "failed": 0, "name": "fleet", "skipped": 0, "state": "none", "tenants": 2}, d["waves"][2]
'
# The same document from --repo, from elsewhere.
cd "$TMP"
run_fl 0 status "$A" --repo "$F" --format json
assert_json "$OUT_FILE" "status --repo from another directory" 'assert d["failed"][0]["tenant"] == "canary-b", d'
cd "$F"

# ---- apply --format json -----------------------------------------------------------
run_fl 5 apply --driver "dir:$ACC" --format json
assert_json "$OUT_FILE" "apply --format json of a waiting rollout: only JSON on stdout, outcome waiting" '
assert list(d) == ["held_by", "outcome", "revision", "status_failures", "waves"], list(d)
assert d["held_by"] == "wave \x27early\x27 is awaiting promotion", d["held_by"]
assert d["outcome"] == "waiting" and d["revision"] == "'"$A"'" and d["status_failures"] == 0, d
keys = ["description", "done", "failed", "name", "started", "state", "suspended", "total"]
for w in d["waves"]:
    assert list(w) == keys, list(w)
c, e, f = d["waves"]
assert c == {"description": "applied 1/2, 1 failed (tolerance 1)", "done": 1, "failed": 1, "name": "canary", "started": True, "state": "success", "suspended": 0, "total": 2}, c
assert (e["name"], e["started"], e["state"], e["description"]) == ("early", False, "pending", "awaiting promotion"), e
assert (f["name"], f["started"], f["description"]) == ("fleet", False, ""), f
'
run_fl 0 promote "$A" --wave early -m "one canary failing is known"
run_fl 0 apply --driver "dir:$ACC" --format json
assert_json "$OUT_FILE" "apply --format json of a finished rollout: outcome done, every wave success" '
assert d["outcome"] == "done", d
got = [(w["name"], w["state"], w["done"], w["failed"], w["total"], w["started"], w["description"]) for w in d["waves"]]
assert got == [("canary", "success", 1, 1, 2, True, "applied 1/2, 1 failed (tolerance 1)"), ("early", "success", 2, 0, 2, True, "applied 2/2"), ("fleet", "success", 2, 0, 2, True, "applied 2/2")], got
'
run_fl 2 apply --driver "dir:$ACC" --format yaml
run_fl 0 status
assert_matches "$OUT" '^  wave/fleet +success +applied 2/2$'
assert_contains "$OUT" "2 tenants: 2 applied, 0 failed, 0 skipped"
assert_contains "$OUT" "  canary-b (wave canary): verify 'smoke' in us-east-1 exited with 1"

# ---- drift ------------------------------------------------------------------------------
run_fl 0 drift --driver "dir:$ACC"
assert_contains "$OUT" "drift: 0 tenants differ from the commit their accounts record"

# Someone changes f1's api by hand, behind flotilla's back.
state=$ACC/300000000001/eu-west-1.state
grep -q '"seats":3' "$state" || fail "f1's api should hold seats 3: $(cat "$state")"
sed -i 's/"seats":3/"seats":30/' "$state"
run_fl 3 drift --driver "dir:$ACC"
assert_contains "$OUT" "accounts at ${A:0:12}: 6 tenants"
assert_contains "$OUT" "tenant f1 (wave fleet, account 300000000001)"
assert_contains "$OUT" "    ~ service/api"
assert_contains "$OUT" "seats: 30 -> 3"
assert_not_contains "$OUT" "tenant f2"
assert_not_contains "$OUT" "tenant canary-a"
assert_matches "$OUT" '^drift: 1 tenant'
# drift reads; it does not write.
assert_contains "$state" '"seats":30'

# And f2's network in us-west-2 is deleted by hand.
state2=$ACC/300000000002/us-west-2.state
sed -i '/^m network vpc /d' "$state2"
run_fl 3 drift --driver "dir:$ACC"
assert_contains "$OUT" "tenant f1 (wave fleet, account 300000000001)"
assert_contains "$OUT" "tenant f2 (wave fleet, account 300000000002)"
assert_contains "$OUT" "    + network/vpc"
assert_contains "$OUT" "drift: 2 tenants differ from the commit their accounts record"

run_fl 0 drift --driver "dir:$ACC" --fix
assert_contains "$OUT" "fixed at ${A:0:12}: done"
assert_contains "$state" '"seats":3}'
assert_not_contains "$state" '"seats":30'
assert_contains "$state2" 'm network vpc {"cidr":"10.0.0.0/16"}'
run_fl 0 drift --driver "dir:$ACC"
assert_contains "$OUT" "drift: 0 tenants differ from the commit their accounts record"

# A drifted canary is fixed without waiting on a later wave's gate: at a
# new commit B rolled out through the canaries only (early not promoted),
# drift --fix of canary-a runs the canary wave and is done (exit 0), not
# left waiting on early's promotion, which none of its tenants is behind.
sed -i 's|10.0.0.0/16|10.1.0.0/16|' release/00-app.yaml
commit . "a commit B, rolled out to the canaries only"
B=$(git rev-parse HEAD)
run_fl 0 apply --driver "dir:$ACC" --through canary
state3=$ACC/100000000001/us-east-1.state
grep -q "^marker $B " "$state3" || fail "canary-a should be at B: $(head -2 "$state3")"
sed -i '/^m network vpc /d' "$state3"
run_fl 3 drift --driver "dir:$ACC"
assert_contains "$OUT" "accounts at ${B:0:12}: 2 tenants"
assert_contains "$OUT" "tenant canary-a (wave canary, account 100000000001)"
run_fl 0 drift --driver "dir:$ACC" --fix
assert_contains "$OUT" "fixed at ${B:0:12}: done"
assert_contains "$state3" 'm network vpc {"cidr":"10.1.0.0/16"}'
# The gate still holds the rest of the fleet at B.
run_fl 5 apply --driver "dir:$ACC"

# ---- what status shows of a failed verify's output ----------------------------------
# Its last 5 lines only; a control character as '?' (status writes to a
# terminal); a line holding the value of a secret var as (secret), as a plan
# does.
S=$TMP/secret
git_repo "$S"
mkdir -p "$S/release" "$S/tenants" "$S/ci"
cat >"$S/fleet.yaml" <<'EOF2'
version: 1
name: secret
vars:
  api_key: { type: string, secret: true }
waves:
  - name: canary
    select: rest
    verify:
      - name: smoke
        run: ["ci/check", "{{vars.api_key}}"]
EOF2
printf 'kind: network\nname: vpc\nspec: { cidr: "10.0.0.0/16" }\n' >"$S/release/00-app.yaml"
printf 'name: only\naccount: "400000000001"\nregions: [us-east-1]\nvars: { api_key: "k3y-s3cr3t-v4lue" }\n' \
	>"$S/tenants/only.yaml"
cat >"$S/ci/check" <<'EOF2'
#!/bin/sh
for i in 1 2 3 4 5 6 7; do echo "step $i"; done
printf 'colour \033[31mred\033[0m\n'
echo "calling the api with key $1"
echo "health check returned 503"
exit 3
EOF2
chmod +x "$S/ci/check"
commit "$S" "a fleet whose verify prints a secret"
cd "$S"
run_fl 4 apply --driver "dir:$TMP/acc-secret"
run_fl 0 status
assert_contains "$OUT" "  only (wave canary): verify 'smoke' in us-east-1 exited with 3
    | step 6
    | step 7
    | colour ?[31mred?[0m
    | (secret)
    | health check returned 503"
assert_not_contains "$OUT" "step 5"
assert_not_contains "$OUT" "k3y-s3cr3t-v4lue"
run_fl 0 status --format json
assert_json "$OUT_FILE" "status --format json: the failed verify's last lines, masked" '
assert d["failed"][0]["verify_output"] == "step 6\nstep 7\ncolour ?[31mred?[0m\n(secret)\nhealth check returned 503", d["failed"]
'