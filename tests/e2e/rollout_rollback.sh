#!/usr/bin/env bash
# on_failure: rollback with the dir driver (SPEC 4, docs/rollout.md "Rolling
# back"): a canary whose verify fails at B goes back to A, checked with A's
# own verify, and the rollout halts; a plain rerun leaves it there and
# apply --tenant tries B again; a new commit applies it; a new tenant has no
# revision to go back to; a rollback whose own verify fails keeps both
# reasons; and a wave with the default (halt) rolls nothing back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rollback_scenario.bash"

ACC=$TMP/acc
DRIVER=dir:$ACC
# The state file of a region: "marker <rev> ..." and "m <kind> <name> <spec>" lines.
image() { sed -n 's/^m service api .*"image":"\([^"]*\)".*/\1/p' "$ACC/$1/$2.state"; }
marker_rev() { marker_line "$ACC/$1/$2.state" | cut -d' ' -f2; }
account_sum() { tree_sum "$ACC/$1"; }

F=$TMP/f
rb_core "$F"
rb_retry "$F"

# ---- a new commit applies the rolled-back tenant again ----------------------
# C fixes B and brings canary-c, a new canary that fails: it was never good
# anywhere, so there is nothing to roll it back to.
rb_release "$F" 3
printf 'canary-c\n' >"$F/ci/bad"
printf 'name: canary-c\naccount: "100000000003"\nregions: [us-east-1]\ncanary: true\n' >"$F/tenants/canary-c.yaml"
commit "$F" "api:3, canary-c"
C=$(git rev-parse HEAD)
run_fl 4 apply --driver "$DRIVER"
assert_eq "$(image 100000000002 us-east-1)" "api:3"
assert_eq "$(marker_rev 100000000002 eu-west-1)" "$C"
assert_eq "$(image 100000000003 us-east-1)" "api:3"
assert_contains "$ERR" "canary-c: failed: verify 'smoke' in us-east-1 exited with 1; rollback impossible: no earlier successful revision"
assert_matches "$OUT" '^  canary +failure +halted: 1 of 3 failed \(tolerance 0\)$'
assert_note "$F" "$C" "the note of C: canary-b applied, canary-c not rolled back" '
assert d["tenants"]["canary-b"]["result"] == "applied", d["tenants"]["canary-b"]
c = d["tenants"]["canary-c"]
assert c["result"] == "failed" and "rolled_back_to" not in c, c
assert c["error"].endswith("; rollback impossible: no earlier successful revision"), c["error"]
'

# ---- a rollback whose own verify fails --------------------------------------
# D (api:4, canary-c fixed) fails canary-b for any commit's check: the
# rollback to C is written, its verify fails too; both reasons are kept.
rb_release "$F" 4
: >"$F/ci/bad"
commit "$F" "api:4"
D=$(git rev-parse HEAD)
echo canary-b >"$F.down"
: >"$F.log"
run_fl 4 apply --driver "$DRIVER"
want="verify 'smoke' in us-east-1 exited with 1; rollback to ${C:0:7} failed: verify 'smoke' in us-east-1 exited with 1"
assert_contains "$ERR" "canary-b: failed: $want"
assert_eq "$(rb_log_of "$F" canary-b | tr '\n' ,)" "us-east-1 $D v4,us-east-1 $C v3,"
assert_eq "$(marker_rev 100000000002 us-east-1)" "$C"
assert_matches "$OUT" '^  canary +failure +halted: 1 of 3 failed \(tolerance 0\)$'
assert_note "$F" "$D" "the note of D: a failed rollback is a failure with both reasons, never rolled back" '
b = d["tenants"]["canary-b"]
assert b["result"] == "failed" and "rolled_back_to" not in b, b
assert b["error"] == "'"$want"'", b["error"]
assert "smoke v3: canary-b is down" in b["verify_tail"], b
'
run_fl 0 status
assert_not_contains "$OUT" "rolled back to"
run_fl 0 status --format json
assert_json "$OUT" "status --format json of D: a failed rollback is no rollback" '
f = d["failed"][0]
assert f["tenant"] == "canary-b" and "rolled_back_to" not in f, f
assert "rolled_back" not in d["waves"][0], d["waves"][0]
'
# Not rolled back: a plain rerun tries it again (and rolls it back again), never in a loop.
run_fl 4 apply --driver "$DRIVER"
assert_eq "$(rb_log_of "$F" canary-b | wc -l)" 4

# ---- the default, halt: nothing is rolled back ------------------------------
H=$TMP/h
ACC=$TMP/acc-h
DRIVER=dir:$ACC
rb_fleet "$H" ""
cd "$H"
run_fl 0 apply --driver "$DRIVER"
rb_release "$H" 2
echo canary-b >"$H/ci/bad"
commit "$H" "api:2"
HB=$(git rev-parse HEAD)
: >"$H.log"
run_fl 4 apply --driver "$DRIVER"
assert_matches "$OUT" '^  canary +failure +halted: 1 of 2 failed \(tolerance 0\)$'
assert_eq "$(image 100000000002 us-east-1)" "api:2"
assert_eq "$(marker_rev 100000000002 eu-west-1)" "$HB"
assert_eq "$(rb_log_of "$H" canary-b | cut -d' ' -f3 | sort -u)" "v2"
assert_note "$H" "$HB" "halt: no rollback recorded" '
b = d["tenants"]["canary-b"]
assert b["result"] == "failed" and "rolled_back_to" not in b and b["error"] == "verify '"'"'smoke'"'"' in us-east-1 exited with 1", b
'
