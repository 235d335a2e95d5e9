#!/usr/bin/env bash
# Waves in order (SPEC 4, 6): canaries first; a manual gate holds the next
# wave until the commit, or a descendant of it, is promoted (by `flotilla
# promote` or by a plain annotated git tag); --through stops early; a bake
# holds the next wave for its duration, measured on FLOTILLA_NOW.
source "$(dirname "$0")/lib.sh"

# fleet DIR BAKE: a fleet repository of 4 tenants in 3 waves: canary (with
# BAKE when not empty), early (behind a manual gate), fleet (the rest).
fleet() {
	local dir=$1 bake=$2
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants"
	{
		echo "version: 1"
		echo "name: waves"
		echo "vars:"
		echo "  title: { type: string, default: plain }"
		echo "waves:"
		echo "  - name: canary"
		echo "    select: { canary: true }"
		[[ -z $bake ]] || echo "    bake: $bake"
		echo "  - name: early"
		echo "    select: { labels: { ring: early } }"
		[[ -n $bake ]] || echo "    gate: manual"
		echo "  - name: fleet"
		echo "    select: rest"
		echo "    max_parallel: 2"
	} >"$dir/fleet.yaml"
	cat >"$dir/release/00-base.yaml" <<'EOF'
kind: network
name: vpc
spec: { cidr: "10.0.0.0/16", owner: "{{tenant.name}}" }
EOF
	release_api "$dir" 1
	cat >"$dir/tenants/canary-a.yaml" <<'EOF'
name: canary-a
account: "100000000001"
regions: [us-east-1, eu-west-1]
canary: true
EOF
	cat >"$dir/tenants/early-a.yaml" <<'EOF'
name: early-a
account: "200000000001"
regions: [us-east-1]
labels: { ring: early }
vars: { title: "Early A" }
EOF
	cat >"$dir/tenants/fleet-a.yaml" <<'EOF'
name: fleet-a
account: "300000000001"
regions: [eu-west-1]
EOF
	cat >"$dir/tenants/fleet-b.yaml" <<'EOF'
name: fleet-b
account: "300000000002"
regions: [us-west-2, eu-west-1]
EOF
	commit "$dir" "fleet"
}

# release_api DIR VERSION: the api template at image api:VERSION.
release_api() {
	cat >"$1/release/10-api.yaml" <<EOF
kind: service
name: api
spec:
  image: "registry.example/api:$2"
  title: "{{vars.title}}"
  region: "{{region}}"
EOF
}

# new_release DIR VERSION: commit a release change; prints the new sha.
new_release() {
	release_api "$1" "$2"
	commit "$1" "api $2"
	git -C "$1" rev-parse HEAD
}

# markers_at ACC SHA ACCOUNT...: every state file of each account names SHA.
markers_at() {
	local acc=$1 sha=$2 a f n
	shift 2
	for a in "$@"; do
		n=0
		for f in "$acc/$a"/*.state; do
			[[ -f $f ]] || fail "account $a should hold state files under $acc/$a"
			assert_matches "$(marker_line "$f")" "^marker $sha [0-9a-f]{32} [0-9a-f]{32} [0-9]+$"
			n=$((n + 1))
		done
	done
}

CANARY=100000000001 EARLY=200000000001 FA=300000000001 FB=300000000002

# ---- a manual gate, flotilla promote -----------------------------------------
F=$TMP/f
ACC=$TMP/acc
fleet "$F" ""
cd "$F"
A=$(git rev-parse HEAD)

run_fl 5 apply --driver "dir:$ACC"
assert_contains "$OUT" "Rolling out $A of fleet waves"
assert_matches "$OUT" '^  canary +success +applied 1/1$'
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
assert_matches "$OUT" '^  fleet +- +not started$'
assert_contains "$OUT" "rollout waiting: a bake or a manual gate holds the next wave"
markers_at "$ACC" "$A" "$CANARY"
[[ -e $ACC/100000000001/us-east-1.state && -e $ACC/100000000001/eu-west-1.state ]] ||
	fail "the canary should have a state file per region"
for a in "$EARLY" "$FA" "$FB"; do
	[[ ! -e $ACC/$a ]] || fail "account $a is behind the gate and should not exist yet"
done
assert_note "$F" "$A" "the note of a gated rollout: canary success, early awaiting promotion, fleet not started" '
c = d["contexts"]
assert d["format"] == 2 and d["revision"] == "'"$A"'", (d["format"], d["revision"])
assert c["flotilla/plan"]["state"] == "success", c["flotilla/plan"]
assert c["flotilla/plan"]["description"] == "4 tenants change: +12 ~0 -0", c["flotilla/plan"]
assert c["flotilla/wave/canary"]["state"] == "success", c["flotilla/wave/canary"]
assert c["flotilla/wave/canary"]["description"] == "applied 1/1", c["flotilla/wave/canary"]
assert c["flotilla/wave/early"]["state"] == "pending", c["flotilla/wave/early"]
assert c["flotilla/wave/early"]["description"] == "awaiting promotion", c["flotilla/wave/early"]
assert "flotilla/wave/fleet" not in c, c.get("flotilla/wave/fleet")
assert sorted(d["tenants"]) == ["canary-a"], sorted(d["tenants"])
t = d["tenants"]["canary-a"]
assert t["result"] == "applied" and t["wave"] == "canary" and "error" not in t, t
assert re.fullmatch("[0-9a-f]{32}", t["fingerprint"]), t["fingerprint"]
assert "succeeded_at" in d["waves"]["canary"], d["waves"]
'

run_fl 0 status
assert_contains "$OUT" "fleet waves at $A"
assert_matches "$OUT" '^  wave/early +pending +awaiting promotion$'
assert_contains "$OUT" "1 tenants: 0 applied, 0 failed, 0 skipped; waits: promotion (flotilla promote ${A:0:12} --wave early)"
assert_matches "$OUT" '^  wave/fleet +- +not started$'

# Applying again while gated changes nothing in the accounts and still waits.
before=$(tree_sum "$ACC")
run_fl 5 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
assert_eq "$(tree_sum "$ACC")" "$before"

run_fl 2 promote HEAD
assert_contains "$ERR" "--wave is required"
run_fl 1 promote HEAD --wave nosuch
assert_contains "$ERR" "fleet 'waves' has no wave 'nosuch'"
assert_eq "$(git tag -l 'flotilla/*')" ""

run_fl 0 promote HEAD --wave early -m "canaries look healthy"
TAG=flotilla/promote/early/$A
assert_contains "$OUT" "promoted ${A:0:12} into wave early: tag $TAG"
assert_eq "$(git tag -l 'flotilla/*')" "$TAG"
assert_eq "$(git cat-file -t "$TAG")" tag
assert_eq "$(git rev-parse "$TAG^{commit}")" "$A"
tagobj=$(git cat-file -p "$TAG")
assert_contains "$tagobj" "object $A"
assert_contains "$tagobj" "type commit"
assert_matches "$tagobj" '^tagger flotilla tests <tests@flotilla.invalid> [0-9]+ [+-][0-9]{4}$'
assert_eq "$(git tag -l --format='%(contents)' "$TAG" | sed '/^$/d')" "canaries look healthy"
run_fl 0 status
assert_contains "$OUT" "promoted: the next apply starts it"
run_fl 0 status --format json
assert_json "$OUT_FILE" "status --format json: early no longer awaits promotion" '
w = {x["name"]: x for x in d["waves"]}
assert w["early"]["awaiting_promotion"] is False, w["early"]
'
# Promoting twice is harmless: the first tag stays as it was.
run_fl 0 promote HEAD --wave early -m again
assert_eq "$(git tag -l --format='%(contents)' "$TAG" | sed '/^$/d')" "canaries look healthy"

run_fl 0 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  canary +success +applied 1/1$'
assert_matches "$OUT" '^  early +success +applied 1/1$'
assert_matches "$OUT" '^  fleet +success +applied 2/2$'
assert_contains "$OUT" "rollout done"
markers_at "$ACC" "$A" "$CANARY" "$EARLY" "$FA" "$FB"
assert_note "$F" "$A" "after the promotion every wave succeeded and every tenant was applied" '
c = d["contexts"]
for w, n in (("canary", 1), ("early", 1), ("fleet", 2)):
    ctx = c["flotilla/wave/" + w]
    assert ctx["state"] == "success" and ctx["description"] == "applied %d/%d" % (n, n), (w, ctx)
assert sorted(d["tenants"]) == ["canary-a", "early-a", "fleet-a", "fleet-b"], sorted(d["tenants"])
for name, t in d["tenants"].items():
    assert t["result"] == "applied", (name, t)
    assert "error" not in t, (name, t)
for w in ("canary", "early", "fleet"):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["waves"][w]["succeeded_at"]), d["waves"]
'
# Checked at the end of the file (it fails now): the fingerprints in this note.
NOTE_A=$(note "$F" "$A")

# Converged: another apply writes nothing and stays done.
before=$(tree_sum "$ACC")
run_fl 0 apply --driver "dir:$ACC"
assert_contains "$OUT" "rollout done"
assert_eq "$(tree_sum "$ACC")" "$before"

# ---- a promotion made with plain git ------------------------------------------
B=$(new_release "$F" 2)
run_fl 5 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
markers_at "$ACC" "$B" "$CANARY"
markers_at "$ACC" "$A" "$EARLY" "$FA" "$FB"
git tag -a "flotilla/promote/early/$B" "$B" -m ok
run_fl 0 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  early +success +applied 1/1$'
assert_matches "$OUT" '^  fleet +success +applied 2/2$'
markers_at "$ACC" "$B" "$CANARY" "$EARLY" "$FA" "$FB"
assert_contains "$ACC/$FB/us-west-2.state" '"image":"registry.example/api:2"'
assert_note "$F" "$B" "a plain git promotion tag lets the rollout through" '
c = d["contexts"]
assert all(c["flotilla/wave/" + w]["state"] == "success" for w in ("canary", "early", "fleet")), c
'

# ---- promoting a descendant lets an older commit pass ---------------------------
C=$(new_release "$F" 3)
D=$(new_release "$F" 4)
E=$(new_release "$F" 5)
run_fl 0 promote "$D" --wave early -m "4 is good"
run_fl 0 apply --driver "dir:$ACC" --rev "$C"
assert_contains "$OUT" "Rolling out $C of fleet waves"
assert_contains "$OUT" "rollout done"
markers_at "$ACC" "$C" "$CANARY" "$EARLY" "$FA" "$FB"
assert_contains "$ACC/$FA/eu-west-1.state" '"image":"registry.example/api:3"'
# ...but not a newer one: E descends from D, D's promotion does not cover it.
run_fl 5 apply --driver "dir:$ACC" --rev "$E"
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
markers_at "$ACC" "$E" "$CANARY"
markers_at "$ACC" "$C" "$EARLY" "$FA" "$FB"

# ---- --through ------------------------------------------------------------------
G=$(new_release "$F" 6)
before_early=$(tree_sum "$ACC/$EARLY")
before_fleet=$(tree_sum "$ACC/$FA")$(tree_sum "$ACC/$FB")
run_fl 0 apply --driver "dir:$ACC" --through canary
assert_matches "$OUT" '^  canary +success +applied 1/1$'
assert_matches "$OUT" '^  early +- +not started$'
assert_matches "$OUT" '^  fleet +- +not started$'
assert_contains "$OUT" "rollout done"
markers_at "$ACC" "$G" "$CANARY"
assert_eq "$(tree_sum "$ACC/$EARLY")" "$before_early"
assert_eq "$(tree_sum "$ACC/$FA")$(tree_sum "$ACC/$FB")" "$before_fleet"
assert_note "$F" "$G" "--through canary: only the canary wave has a status" '
c = d["contexts"]
assert c["flotilla/wave/canary"]["state"] == "success", c
assert "flotilla/wave/early" not in c and "flotilla/wave/fleet" not in c, sorted(c)
assert sorted(d["tenants"]) == ["canary-a"], sorted(d["tenants"])
'
run_fl 2 apply --driver "dir:$ACC" --through nosuch
assert_contains "$ERR" "unknown wave 'nosuch'"

# ---- a bake -----------------------------------------------------------------------
# T0 = 2023-11-14T22:13:20Z; the canary wave bakes 15m, until 22:28:20Z.
B2=$TMP/bake
BACC=$TMP/bacc
fleet "$B2" 15m
cd "$B2"
H=$(git rev-parse HEAD)
T0=1700000000
FLOTILLA_NOW=$T0 run_fl 5 apply --driver "dir:$BACC"
assert_matches "$OUT" '^  canary +success +applied 1/1$'
assert_matches "$OUT" '^  early +pending +baking until 22:28Z \(2023-11-14T22:28:20Z\)$'
[[ ! -e $BACC/$EARLY ]] || fail "early should not start while the canaries bake"
assert_note "$B2" "$H" "a bake just begun: the note says until when, and when the canary wave succeeded" '
c = d["contexts"]
assert c["flotilla/wave/early"] == {"description": "baking until 22:28Z (2023-11-14T22:28:20Z)", "state": "pending", "updated": "2023-11-14T22:13:20Z"}, c["flotilla/wave/early"]
assert d["waves"]["canary"]["succeeded_at"] == "2023-11-14T22:13:20Z", d["waves"]
'
FLOTILLA_NOW=$((T0 + 300)) run_fl 0 status
assert_matches "$OUT" '^  wave/early +pending +baking until 22:28Z \(2023-11-14T22:28:20Z\)$'
assert_contains "$OUT" "waits: bake until 2023-11-14T22:28:20Z"
FLOTILLA_NOW=$((T0 + 300)) run_fl 0 status --format json
assert_json "$OUT_FILE" "status --format json during the bake" '
w = {x["name"]: x for x in d["waves"]}
assert w["early"]["bake_until"] == "2023-11-14T22:28:20Z", w["early"]
assert w["early"]["state"] == "pending" and w["early"]["awaiting_promotion"] is False, w["early"]
assert w["canary"]["bake_until"] == "" and w["canary"]["state"] == "success", w["canary"]
'
# One second before the end: still baking, nothing written beyond the canary.
FLOTILLA_NOW=$((T0 + 899)) run_fl 5 apply --driver "dir:$BACC"
assert_matches "$OUT" '^  early +pending +baking until 22:28Z \(2023-11-14T22:28:20Z\)$'
[[ ! -e $BACC/$EARLY && ! -e $BACC/$FA ]] || fail "no wave after the canary may start before the bake ends"
assert_note "$B2" "$H" "a second run inside the bake keeps the first success time" '
assert d["waves"]["canary"]["succeeded_at"] == "2023-11-14T22:13:20Z", d["waves"]
assert d["contexts"]["flotilla/wave/early"]["description"].startswith("baking until 22:28Z"), d["contexts"]
'
# The bake is over: the rest goes out.
FLOTILLA_NOW=$((T0 + 900)) run_fl 0 apply --driver "dir:$BACC"
assert_matches "$OUT" '^  early +success +applied 1/1$'
assert_matches "$OUT" '^  fleet +success +applied 2/2$'
markers_at "$BACC" "$H" "$CANARY" "$EARLY" "$FA" "$FB"
FLOTILLA_NOW=$((T0 + 1000)) run_fl 0 status
assert_not_contains "$OUT" "waits:"
assert_matches "$OUT" '^  wave/early +success +applied 1/1$'

# A tenant's fingerprint, once recorded, stays in the note when a later run
# of the same commit finds the tenant already at it (canary-a was applied by
# the first, gated run; the run after the promotion found it converged).
assert_json "$NOTE_A" "every tenant's fingerprint in the note is 32 hex digits, also for a tenant a later run found converged" '
for name, t in d["tenants"].items():
    assert re.fullmatch("[0-9a-f]{32}", t["fingerprint"]), (name, t["fingerprint"])
'
