# shellcheck shell=bash
# The scenario of on_failure: rollback (SPEC 4, docs/rollout.md "Rolling
# back") that tests/e2e/rollout_rollback*.sh run through each driver. Not a
# test itself (CTest runs *.sh only): a test sources lib.sh, then this file,
# then defines for its driver
#   image ACCOUNT REGION    the image of service/api the account holds
#   marker_rev ACCOUNT REGION  the revision of the account's marker there
#   account_sum ACCOUNT     a checksum of everything the account holds
# and sets DRIVER (the --driver argument), then calls the functions below.

# rb_fleet DIR ON_FAILURE: a fleet with waves canary (canary-a, canary-b in
# us-east-1 and eu-west-1; one at a time, tolerance 0, on_failure as given,
# "" for the default) and fleet (f1), release image api:1, and ci/check as
# the verify of both waves. ci/check logs "<tenant> <region> <revision>
# <its version>" to DIR.log, outside the repository, and fails for tenants
# listed in ci/bad (the commit's) or in DIR.down (outside, for any commit).
rb_fleet() {
	local dir=$1 on_failure=$2
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants" "$dir/ci"
	{
		printf 'version: 1\nname: rollback\nwaves:\n'
		printf '  - name: canary\n    select: { canary: true }\n    max_parallel: 1\n    failure_tolerance: 0\n'
		[[ -z $on_failure ]] || printf '    on_failure: %s\n' "$on_failure"
		printf '    verify:\n      - name: smoke\n        run: ["ci/check"]\n        timeout: 1m\n'
		printf '  - name: fleet\n    select: rest\n    verify:\n      - name: smoke\n        run: ["ci/check"]\n'
	} >"$dir/fleet.yaml"
	rb_release "$dir" 1
	printf 'name: canary-a\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' \
		>"$dir/tenants/canary-a.yaml"
	printf 'name: canary-b\naccount: "100000000002"\nregions: [us-east-1, eu-west-1]\ncanary: true\n' \
		>"$dir/tenants/canary-b.yaml"
	printf 'name: f1\naccount: "300000000001"\nregions: [eu-west-1]\n' >"$dir/tenants/f1.yaml"
	: >"$dir/ci/bad"
	: >"$dir.down"
	commit "$dir" "api:1"
}

# rb_release DIR N: release image api:N and ci/check version vN (not committed).
rb_release() {
	local dir=$1 n=$2
	printf 'kind: service\nname: api\nspec: { image: "api:%s", tenant: "{{tenant.name}}" }\n' "$n" \
		>"$dir/release/api.yaml"
	cat >"$dir/ci/check" <<SH
#!/bin/sh
echo "\$FLOTILLA_TENANT \$FLOTILLA_REGION \$FLOTILLA_REVISION v$n" >>"$dir.log"
if grep -qx "\$FLOTILLA_TENANT" ci/bad "$dir.down"; then
	echo "smoke v$n: \$FLOTILLA_TENANT is down in \$FLOTILLA_REGION"
	exit 1
fi
echo "smoke v$n: ok"
SH
	chmod +x "$dir/ci/check"
}

# rb_log_of DIR TENANT: the verify runs logged for TENANT, "region revision version" per line.
rb_log_of() {
	sed -n "s/^$2 //p" "$1.log"
}

# rb_core DIR: commit A rolled out everywhere; commit B (api:2, ci/check v2)
# fails canary-b's verify; the wave (on_failure: rollback) takes canary-b
# back to A and halts. Then a plain rerun leaves canary-b alone. Sets A, B.
rb_core() {
	local dir=$1 f1_sum b_sum
	rb_fleet "$dir" rollback
	cd "$dir"
	A=$(git rev-parse HEAD)
	run_fl 0 apply --driver "$DRIVER"
	assert_contains "$OUT" "rollout done"
	assert_eq "$(image 100000000002 eu-west-1)" "api:1"

	rb_release "$dir" 2
	echo canary-b >"$dir/ci/bad"
	commit "$dir" "api:2"
	B=$(git rev-parse HEAD)
	: >"$dir.log"
	f1_sum=$(account_sum 300000000001)
	run_fl 4 apply --driver "$DRIVER"
	# The failure counts: the wave halts, the next one never starts.
	assert_matches "$OUT" "^  canary +failure +halted: 1 of 2 failed \\(tolerance 0\\), 1 rolled back to ${A:0:7}\$"
	assert_matches "$OUT" '^  fleet +error +not started: wave canary failed$'
	assert_contains "$ERR" "canary-b: failed: verify 'smoke' in us-east-1 exited with 1; rolled back to ${A:0:7}"
	assert_eq "$(account_sum 300000000001)" "$f1_sum"
	# canary-a went on to B; canary-b holds A's resources again, its markers at A.
	assert_eq "$(image 100000000001 us-east-1)" "api:2"
	assert_eq "$(marker_rev 100000000001 us-east-1)" "$B"
	for region in us-east-1 eu-west-1; do
		assert_eq "$(image 100000000002 $region)" "api:1"
		assert_eq "$(marker_rev 100000000002 $region)" "$A"
	done
	# B's check failed in the first region; then A's own check ran, for A, in both.
	assert_eq "$(rb_log_of "$dir" canary-b | tr '\n' ,)" \
		"us-east-1 $B v2,us-east-1 $A v1,eu-west-1 $A v1,"
	assert_json "$(note . "$B")" "the note of B: canary-b failed, rolled back to A" '
b = d["tenants"]["canary-b"]
assert b["result"] == "failed" and b["rolled_back_to"] == "'"$A"'", b
assert b["error"] == "verify '"'"'smoke'"'"' in us-east-1 exited with 1; rolled back to '"${A:0:7}"'", b["error"]
runs = [(v["region"], v.get("revision"), v["passed"]) for v in b["verify"]]
assert runs == [("us-east-1", None, False), ("us-east-1", "'"$A"'", True), ("eu-west-1", "'"$A"'", True)], runs
assert "smoke v2: canary-b is down" in b["verify_tail"], b
assert "rolled_back_to" not in d["tenants"]["canary-a"], d["tenants"]["canary-a"]
c = d["contexts"]["flotilla/wave/canary"]
assert c["state"] == "failure" and c["description"] == "halted: 1 of 2 failed (tolerance 0), 1 rolled back to '"${A:0:7}"'", c
'
	run_fl 0 status
	assert_contains "$OUT" "  canary-b (wave canary): verify 'smoke' in us-east-1 exited with 1; rolled back to ${A:0:7}"
	assert_contains "$OUT" "    rolled back to ${A:0:7}: apply leaves it there; flotilla apply --rev ${B:0:12} --tenant canary-b retries this commit"
	assert_matches "$OUT" '^ +2 tenants: 1 applied, 1 failed \(1 rolled back\), 0 skipped$'
	run_fl 0 status --format json
	assert_json "$OUT" "status --format json: canary-b rolled back to A" '
f = [t for t in d["failed"] if t["tenant"] == "canary-b"][0]
assert f["rolled_back_to"] == "'"$A"'", f
assert [t for t in d["failed"] if t["tenant"] == "canary-a"] == [], d["failed"]
w = d["waves"][0]
assert w["rolled_back"] == 1 and w["failed"] == 1 and w["applied"] == 1, w
assert "rolled_back" not in d["waves"][1], d["waves"][1]
'

	# A plain rerun (a scheduled job) does not apply B to canary-b again.
	b_sum=$(account_sum 100000000002)
	run_fl 4 apply --driver "$DRIVER"
	assert_matches "$OUT" "^  canary +failure +halted: 1 of 2 failed \\(tolerance 0\\), 1 rolled back to ${A:0:7}\$"
	assert_contains "$ERR" "canary-b: failed: rolled back to ${A:0:7} at this commit; not applied again (apply --tenant canary-b retries it)"
	assert_eq "$(account_sum 100000000002)" "$b_sum"
	assert_eq "$(rb_log_of "$dir" canary-b | wc -l)" 3
	assert_eq "$(account_sum 300000000001)" "$f1_sum"
}

# rb_retry DIR: apply --tenant canary-b tries B again: it fails again and is
# rolled back again, A's check run again (the account was written again).
rb_retry() {
	local dir=$1
	run_fl 4 apply --driver "$DRIVER" --tenant canary-b
	assert_eq "$(rb_log_of "$dir" canary-b | tr '\n' ,)" \
		"us-east-1 $B v2,us-east-1 $A v1,eu-west-1 $A v1,us-east-1 $B v2,us-east-1 $A v1,eu-west-1 $A v1,"
	assert_eq "$(image 100000000002 us-east-1)" "api:1"
	assert_eq "$(marker_rev 100000000002 eu-west-1)" "$A"
	assert_json "$(note . "$B")" "the note after apply --tenant: rolled back again" '
b = d["tenants"]["canary-b"]
assert b["result"] == "failed" and b["rolled_back_to"] == "'"$A"'", b
'
}
