#!/usr/bin/env bash
# Failures (SPEC 4): a failing verify fails its tenant and only that tenant;
# a wave past its failure tolerance halts the rollout (exit 4) and no later
# wave, nor any further tenant of the wave, starts; within tolerance the wave
# succeeds; an account reporting another identity is never written.
source "$(dirname "$0")/lib.sh"

# fleet DIR TOLERANCE BAD...: a fleet of 2 canaries (wave canary, tolerance 0)
# and 5 tenants f1..f5 (wave fleet, max_parallel 1 so they run in name order,
# failure_tolerance TOLERANCE). Both waves verify with ci/check, which fails
# for the tenants named in ci/bad (the BAD arguments) and logs every run to
# DIR.log, outside the repository.
fleet() {
	local dir=$1 tol=$2 i
	shift 2
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants" "$dir/ci"
	cat >"$dir/fleet.yaml" <<EOF
version: 1
name: failures
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 2
    failure_tolerance: 0
    verify:
      - name: smoke
        run: ["ci/check", "{{tenant.name}}", "{{region}}"]
        timeout: 1m
  - name: fleet
    select: rest
    max_parallel: 1
    failure_tolerance: $tol
    verify:
      - name: smoke
        run: ["ci/check", "{{tenant.name}}", "{{region}}"]
        timeout: 1m
EOF
	cat >"$dir/release/00-base.yaml" <<'EOF'
kind: network
name: vpc
spec: { cidr: "10.0.0.0/16", owner: "{{tenant.name}}" }
---
kind: service
name: api
spec: { image: "registry.example/api:1", region: "{{region}}" }
EOF
	cat >"$dir/ci/check" <<EOF
#!/bin/sh
echo "\$FLOTILLA_TENANT \$FLOTILLA_REGION \$FLOTILLA_REVISION" >>"$dir.log"
echo "checking \$1 in \$2: tenant=\$FLOTILLA_TENANT account=\$FLOTILLA_ACCOUNT region=\$FLOTILLA_REGION wave=\$FLOTILLA_WAVE revision=\$FLOTILLA_REVISION"
if grep -qx "\$FLOTILLA_TENANT" ci/bad; then
	echo "smoke: \$FLOTILLA_TENANT is down"
	exit 1
fi
echo ok
EOF
	chmod +x "$dir/ci/check"
	printf '%s\n' "$@" >"$dir/ci/bad"
	printf 'name: canary-a\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' \
		>"$dir/tenants/canary-a.yaml"
	printf 'name: canary-b\naccount: "100000000002"\nregions: [us-east-1, eu-west-1]\ncanary: true\n' \
		>"$dir/tenants/canary-b.yaml"
	for i in 1 2 3 4 5; do
		printf 'name: f%s\naccount: "30000000000%s"\nregions: [eu-west-1]\n' "$i" "$i" >"$dir/tenants/f$i.yaml"
	done
	commit "$dir" "fleet"
	[[ $(git -C "$dir" ls-files -s ci/check | cut -c1-6) == 100755 ]] || fail "ci/check should be committed executable"
}

# ---- tolerance 0: one canary fails its verify --------------------------------
F=$TMP/t0
ACC=$TMP/acc0
fleet "$F" 0 canary-b
cd "$F"
A=$(git rev-parse HEAD)
run_fl 4 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  canary +failure +halted: 1 of 2 failed \(tolerance 0\)$'
assert_matches "$OUT" '^  fleet +error +not started: wave canary failed$'
assert_contains "$OUT" "rollout halted: a wave failed past its tolerance"
assert_contains "$ERR" "canary-b: failed: verify 'smoke' in us-east-1 exited with 1"
assert_not_contains "$ERR" "canary-a"
# canary-a runs first (name order) and succeeds; canary-b was written, then failed its verify.
assert_matches "$(marker_line "$ACC/100000000001/us-east-1.state")" "^marker $A "
assert_file_exists "$ACC/100000000002/us-east-1.state"
for i in 1 2 3 4 5; do
	[[ ! -e $ACC/30000000000$i ]] || fail "wave fleet must not start after canary failed: account of f$i exists"
done
assert_note "$F" "$A" "the note of a halted rollout: canary failure, fleet not started, canary-b's error and verify output" '
c = d["contexts"]
assert c["flotilla/wave/canary"]["state"] == "failure", c["flotilla/wave/canary"]
assert c["flotilla/wave/canary"]["description"] == "halted: 1 of 2 failed (tolerance 0)", c["flotilla/wave/canary"]
assert c["flotilla/wave/fleet"]["state"] == "error", c["flotilla/wave/fleet"]
assert c["flotilla/wave/fleet"]["description"] == "not started: wave canary failed", c["flotilla/wave/fleet"]
assert sorted(d["tenants"]) == ["canary-a", "canary-b"], sorted(d["tenants"])
a, b = d["tenants"]["canary-a"], d["tenants"]["canary-b"]
assert a["result"] == "applied" and "error" not in a, a
assert [(v["name"], v["region"], v["exit_code"], v["passed"], v["timed_out"]) for v in a["verify"]] == [("smoke", "us-east-1", 0, True, False)], a["verify"]
assert a["verify"][0]["output"] == "checking canary-a in us-east-1: tenant=canary-a account=100000000001 region=us-east-1 wave=canary revision='"$A"'\nok\n", a["verify"][0]["output"]
assert b["result"] == "failed" and b["wave"] == "canary", b
assert b["error"] == "verify '"'"'smoke'"'"' in us-east-1 exited with 1", b["error"]
v = b["verify"][0]
assert (v["name"], v["region"], v["exit_code"], v["passed"], v["timed_out"]) == ("smoke", "us-east-1", 1, False, False), v
assert "smoke: canary-b is down" in v["output"], v["output"]
assert "canary" not in d["waves"] or "succeeded_at" not in d["waves"]["canary"], d["waves"]
'
run_fl 0 status
assert_contains "$OUT" "failed tenants:"
assert_contains "$OUT" "  canary-b (wave canary): verify 'smoke' in us-east-1 exited with 1"

# Again: level-triggered, the same outcome. The verify that passed (canary-a)
# is not run a second time for this commit; the one that failed runs again.
assert_eq "$(cut -d' ' -f1,2 "$F.log" | tr '\n' ,)" "canary-a us-east-1,canary-b us-east-1,"
run_fl 4 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  canary +failure +halted: 1 of 2 failed \(tolerance 0\)$'
assert_eq "$(cut -d' ' -f1,2 "$F.log" | tr '\n' ,)" "canary-a us-east-1,canary-b us-east-1,canary-b us-east-1,"
assert_note "$F" "$A" "a second run records canary-b's verify again and keeps canary-a's" '
a, b = d["tenants"]["canary-a"], d["tenants"]["canary-b"]
assert a["result"] == "applied" and [v["passed"] for v in a["verify"]] == [True], a
assert b["result"] == "failed" and b["verify"] and b["verify"][-1]["exit_code"] == 1, b
'
# Fixed in place (ci/bad is read from the commit, so a new commit): canary-b passes.
: >ci/bad
commit . "canary-b fixed"
A2=$(git rev-parse HEAD)
run_fl 0 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  canary +success +applied 2/2$'
assert_matches "$OUT" '^  fleet +success +applied 5/5$'
assert_note "$F" "$A2" "after the fix every tenant is applied" '
assert all(t["result"] in ("applied", "unchanged") for t in d["tenants"].values()), d["tenants"]
assert d["tenants"]["f1"]["result"] == "applied" and d["tenants"]["f1"]["verify"][0]["passed"], d["tenants"]["f1"]
'

# ---- tolerance 1, two failures: halted after the second ------------------------
F=$TMP/t1
ACC=$TMP/acc1
fleet "$F" 1 f2 f4
cd "$F"
A=$(git rev-parse HEAD)
run_fl 4 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  canary +success +applied 2/2$'
assert_matches "$OUT" '^  fleet +failure +halted: 2 of 5 failed \(tolerance 1\)$'
assert_contains "$ERR" "f2: failed: verify 'smoke' in eu-west-1 exited with 1"
assert_contains "$ERR" "f4: failed: verify 'smoke' in eu-west-1 exited with 1"
for i in 1 2 3 4; do
	assert_matches "$(marker_line "$ACC/30000000000$i/eu-west-1.state")" "^marker $A "
done
[[ ! -e $ACC/300000000005 ]] || fail "f5 comes after the second failure past tolerance 1 and must never start"
assert_note "$F" "$A" "tolerance 1 with f2 and f4 failing: f1 and f3 applied, f5 never started" '
c = d["contexts"]
assert c["flotilla/wave/canary"] == {**c["flotilla/wave/canary"], "state": "success", "description": "applied 2/2"}, c
assert c["flotilla/wave/fleet"]["state"] == "failure", c["flotilla/wave/fleet"]
assert c["flotilla/wave/fleet"]["description"] == "halted: 2 of 5 failed (tolerance 1)", c["flotilla/wave/fleet"]
t = d["tenants"]
assert "f5" not in t, t.get("f5")
assert [t[n]["result"] for n in ("f1", "f2", "f3", "f4")] == ["applied", "failed", "applied", "failed"], t
assert t["f4"]["error"] == "verify '"'"'smoke'"'"' in eu-west-1 exited with 1", t["f4"]
'
run_fl 0 status --format json
assert_json "$OUT_FILE" "status --format json lists f2 and f4 as failed, with why" '
assert [(f["tenant"], f["wave"]) for f in d["failed"]] == [("f2", "fleet"), ("f4", "fleet")], d["failed"]
assert all(f["error"] == "verify '"'"'smoke'"'"' in eu-west-1 exited with 1" for f in d["failed"]), d["failed"]
w = {x["name"]: x for x in d["waves"]}
assert (w["fleet"]["state"], w["fleet"]["applied"], w["fleet"]["failed"], w["fleet"]["tenants"]) == ("failure", 2, 2, 5), w["fleet"]
'

# ---- tolerance 1, one failure: the wave succeeds ----------------------------------
F=$TMP/t2
ACC=$TMP/acc2
fleet "$F" 1 f2
cd "$F"
A=$(git rev-parse HEAD)
run_fl 0 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  fleet +success +applied 4/5, 1 failed \(tolerance 1\)$'
assert_contains "$OUT" "rollout done"
for i in 1 2 3 4 5; do
	assert_matches "$(marker_line "$ACC/30000000000$i/eu-west-1.state")" "^marker $A "
done
assert_note "$F" "$A" "tolerance 1 with one failure: the wave succeeds and says so" '
c = d["contexts"]["flotilla/wave/fleet"]
assert c["state"] == "success" and c["description"] == "applied 4/5, 1 failed (tolerance 1)", c
assert d["tenants"]["f2"]["result"] == "failed", d["tenants"]["f2"]
assert [d["tenants"]["f%d" % i]["result"] for i in (1, 3, 4, 5)] == ["applied"] * 4, d["tenants"]
'

# ---- an account reporting another identity -----------------------------------------
# f3's account now says it is another account (a directory copied by hand):
# nothing may be written to it.
printf '{"account":"999999999999","tenant":"f3"}\n' >"$ACC/300000000003/account.json"
before=$(tree_sum "$ACC/300000000003")
sed -i 's/api:1/api:2/' release/00-base.yaml
: >ci/bad
commit . "api 2, f2 fixed"
B=$(git rev-parse HEAD)
run_fl 0 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  fleet +success +applied 4/5, 1 failed \(tolerance 1\)$'
assert_contains "$ERR" "f3: failed:"
assert_contains "$ERR" "the account reports id '999999999999', but the manifest names '300000000003': nothing is written"
assert_eq "$(tree_sum "$ACC/300000000003")" "$before"
assert_matches "$(marker_line "$ACC/300000000003/eu-west-1.state")" "^marker $A "
assert_contains "$ACC/300000000002/eu-west-1.state" '"image":"registry.example/api:2"'
assert_not_contains "$ACC/300000000003/eu-west-1.state" '"image":"registry.example/api:2"'
assert_note "$F" "$B" "f3 fails with an identity error; f2 (its verify no longer failing) is applied" '
t = d["tenants"]
assert t["f3"]["result"] == "failed", t["f3"]
assert "the account reports id '"'"'999999999999'"'"', but the manifest names '"'"'300000000003'"'"': nothing is written" in t["f3"]["error"], t["f3"]
assert t["f3"]["verify"] == [], t["f3"]["verify"]
assert t["f2"]["result"] == "applied" and t["f2"]["verify"][0]["passed"] is True, t["f2"]
'

# ---- a canary that failed its verify stays failed for a commit that changes nothing of it
# (Checked last.) Commit A fails canary-b's verify and halts. Commit A1 only
# adds a README: every tenant's inputs are A's, so canary-b's markers hold
# A1's inputs fingerprint and flotilla finds it "converged"; but the release
# it runs never passed its verify, so A1 must not count canary-b as done and
# roll that release on to the fleet wave unverified.
F=$TMP/t3
ACC=$TMP/acc3
fleet "$F" 0 canary-b
cd "$F"
run_fl 4 apply --driver "dir:$ACC"
echo "notes" >README
commit . "a README"
A1=$(git rev-parse HEAD)
got=0
"$FLOTILLA" apply --driver "dir:$ACC" >"$OUT_FILE" 2>"$ERR_FILE" || got=$?
for i in 1 2 3 4 5; do
	[[ ! -e $ACC/30000000000$i ]] ||
		fail "a README commit after canary-b failed its verify must not roll the unverified release to f$i (canary-b is '$(note "$F" "$A1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenants"]["canary-b"]["result"])')' in the note of $A1)
$(cat "$OUT_FILE")"
done
[[ $got == 4 ]] || fail "apply of the README commit should halt (exit 4) on canary-b's failed verify, exited $got
$(cat "$OUT_FILE")"
