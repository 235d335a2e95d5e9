#!/usr/bin/env bash
# A fleet over time (SPEC 3, 4): a newer commit supersedes an older rollout;
# a decommissioned tenant has everything deleted, with a receipt in the note;
# a suspended tenant is left as it is; the mass-delete guard; resources that
# left the release are kept without prune; a removed tenant file leaves its
# account untouched, and is reported.
source "$(dirname "$0")/lib.sh"

# fleet DIR: 5 tenants in 3 waves (canary; early behind a manual gate; the
# rest), a release of 4 templates in 2 files, and a guard of 50%.
fleet() {
	local dir=$1
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants"
	cat >"$dir/fleet.yaml" <<'EOF'
version: 1
name: lifecycle
waves:
  - name: canary
    select: { canary: true }
  - name: early
    select: { labels: { ring: early } }
    gate: manual
  - name: fleet
    select: rest
    max_parallel: 3
guard: { max_delete_percent: 50 }
EOF
	cat >"$dir/release/00-base.yaml" <<'EOF'
kind: network
name: vpc
spec: { cidr: "10.0.0.0/16", owner: "{{tenant.name}}" }
---
kind: bucket
name: uploads
spec: { versioned: true, region: "{{region}}" }
EOF
	api_release "$dir" 1
	printf 'name: canary-a\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' >"$dir/tenants/canary-a.yaml"
	printf 'name: early-a\naccount: "200000000001"\nregions: [us-east-1]\nlabels: { ring: early }\n' >"$dir/tenants/early-a.yaml"
	printf 'name: fleet-a\naccount: "300000000001"\nregions: [eu-west-1]\n' >"$dir/tenants/fleet-a.yaml"
	printf 'name: fleet-b\naccount: "300000000002"\nregions: [us-west-2, eu-west-1]\n' >"$dir/tenants/fleet-b.yaml"
	printf 'name: fleet-c\naccount: "300000000003"\nregions: [eu-west-1]\n' >"$dir/tenants/fleet-c.yaml"
	commit "$dir" "fleet"
}

# api_release DIR VERSION: release/10-api.yaml (service api and worker) at VERSION.
api_release() {
	cat >"$1/release/10-api.yaml" <<EOF
kind: service
name: api
spec: { image: "registry.example/api:$2", region: "{{region}}" }
---
kind: service
name: worker
spec: { image: "registry.example/worker:$2" }
EOF
}

# promote_apply EXIT ARGS...: promote HEAD into early, then apply (exit EXIT).
promote_apply() {
	local want=$1
	shift
	run_fl 0 promote HEAD --wave early -m "go"
	run_fl "$want" apply --driver "dir:$ACC" "$@"
}

# resource_lines STATE_FILE: the resource lines (after the marker).
resource_lines() {
	tail -n +3 "$1"
}

F=$TMP/f
ACC=$TMP/acc
CANARY=$ACC/100000000001 EARLY=$ACC/200000000001
FA=$ACC/300000000001 FB=$ACC/300000000002 FC=$ACC/300000000003
fleet "$F"
cd "$F"
A=$(git rev-parse HEAD)

# ---- a newer commit supersedes an older rollout ---------------------------------
run_fl 5 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
api_release . 2
commit . "api 2"
B=$(git rev-parse HEAD)
run_fl 5 apply --driver "dir:$ACC"
assert_matches "$(marker_line "$CANARY/us-east-1.state")" "^marker $B "
assert_note "$F" "$A" "B reached the canaries: A's waves that had not run are superseded by ${B:0:7}" '
c = d["contexts"]
assert c["flotilla/wave/canary"]["state"] == "success", c["flotilla/wave/canary"]
for w in ("early", "fleet"):
    assert c["flotilla/wave/" + w]["state"] == "error", (w, c.get("flotilla/wave/" + w))
    assert c["flotilla/wave/" + w]["description"] == "superseded by '"${B:0:7}"'", (w, c["flotilla/wave/" + w])
'
assert_note "$F" "$B" "B's own rollout is not superseded" '
c = d["contexts"]
assert c["flotilla/wave/canary"]["state"] == "success", c
assert c["flotilla/wave/early"] == {**c["flotilla/wave/early"], "state": "pending", "description": "awaiting promotion"}, c
'
run_fl 0 status "$A"
assert_matches "$OUT" "^  wave/early +error +superseded by ${B:0:7}$"

# Applying A again: the canary account is already at B, a descendant.
before=$(tree_sum "$ACC")
run_fl 4 apply --driver "dir:$ACC" --rev "$A"
assert_contains "$OUT" "rollout superseded by a newer commit"
assert_contains "$OUT" "accounts are already at ${B:0:12}"
assert_eq "$(tree_sum "$ACC")" "$before"
assert_note "$F" "$A" "A applied again after B: superseded, its canary left at B" '
c = d["contexts"]
for w in ("early", "fleet"):
    assert c["flotilla/wave/" + w] == {**c["flotilla/wave/" + w], "state": "error", "description": "superseded by '"${B:0:7}"'"}, (w, c["flotilla/wave/" + w])
t = d["tenants"]["canary-a"]
assert t["result"] == "skipped", t
assert "superseded" in t["error"] and "'"${B:0:12}"'" in t["error"], t
'
run_fl 4 apply --driver "dir:$ACC" --rev "$A" --format json
assert_json "$OUT_FILE" "apply --format json of a superseded commit" '
assert d["outcome"] == "superseded" and d["revision"] == "'"$A"'", d
'

promote_apply 0
assert_contains "$OUT" "rollout done"
for f in "$CANARY/us-east-1" "$EARLY/us-east-1" "$FA/eu-west-1" "$FB/us-west-2" "$FB/eu-west-1" "$FC/eu-west-1"; do
	assert_matches "$(marker_line "$f.state")" "^marker $B [0-9a-f]{32} [0-9a-f]{32} 4$"
	assert_eq "$(resource_lines "$f.state" | wc -l)" 4
done

# ---- a decommissioned tenant ---------------------------------------------------------
sed -i '$a state: decommissioned' tenants/fleet-b.yaml
commit . "fleet-b leaves"
C=$(git rev-parse HEAD)
run_fl 0 plan --driver "dir:$ACC" --format json
cp "$OUT_FILE" "$TMP/plan-c.json"
assert_json "$TMP/plan-c.json" "the plan of the decommission: fleet-b deletes its 8 resources" '
t = [t for t in d["tenants"] if t["name"] == "fleet-b"][0]
assert [r["region"] for r in t["regions"]] == ["us-west-2", "eu-west-1"], t["regions"]
for r in t["regions"]:
    assert [(c["op"], c["kind"], c["name"]) for c in r["changes"]] == [("delete", "service", "worker"), ("delete", "service", "api"), ("delete", "bucket", "uploads"), ("delete", "network", "vpc")], r["changes"]
assert d["summary"]["deletes"] == 8 and d["summary"]["tenants_changed"] == 1, d["summary"]
'
promote_apply 0
assert_contains "$OUT" "rollout done"
for r in us-west-2 eu-west-1; do
	assert_matches "$(marker_line "$FB/$r.state")" "^marker $C [0-9a-f]{32} [0-9a-f]{32} 0$"
	assert_eq "$(resource_lines "$FB/$r.state")" ""
done
assert_matches "$(marker_line "$FA/eu-west-1.state")" "^marker $B "
python3 - "$TMP/plan-c.json" >"$TMP/deleted.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
t = [t for t in plan["tenants"] if t["name"] == "fleet-b"][0]
print(json.dumps([[r["region"], c["kind"], c["name"], c["old_fingerprint"]] for r in t["regions"] for c in r["changes"]]))
PY
assert_note "$F" "$C" "the decommission receipt lists every deleted resource with its fingerprint" '
t = d["tenants"]["fleet-b"]
assert t["result"] == "decommissioned" and t["wave"] == "fleet", t
r = t["decommission_receipt"]
want = '"$(cat "$TMP/deleted.json")"'
got = [[i["region"], i["kind"], i["name"], i["fingerprint"]] for i in r["deleted"]]
assert got == want, (got, want)
assert all(re.fullmatch("[0-9a-f]{32}", i[3]) for i in got), got
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["time"]), r
assert "decommission_receipt" not in d["tenants"]["fleet-a"], d["tenants"]["fleet-a"]
'
# Again: nothing left to delete, the receipt stays.
before=$(tree_sum "$FB")
run_fl 0 apply --driver "dir:$ACC"
assert_eq "$(tree_sum "$FB")" "$before"
assert_note "$F" "$C" "a second apply keeps the receipt" '
assert len(d["tenants"]["fleet-b"]["decommission_receipt"]["deleted"]) == 8, d["tenants"]["fleet-b"]
'

# ---- a suspended tenant ------------------------------------------------------------------
sed -i '$a state: suspended' tenants/fleet-c.yaml
api_release . 3
commit . "api 3; fleet-c suspended"
D=$(git rev-parse HEAD)
before=$(tree_sum "$FC")
promote_apply 0
assert_matches "$OUT" '^  fleet +success +applied 2/3, 1 suspended$'
assert_eq "$(tree_sum "$FC")" "$before"
assert_contains "$FA/eu-west-1.state" '"image":"registry.example/api:3"'
assert_not_contains "$FC/eu-west-1.state" '"image":"registry.example/api:3"'
assert_note "$F" "$D" "the suspended tenant is skipped" '
assert d["tenants"]["fleet-c"]["result"] == "skipped", d["tenants"]["fleet-c"]
assert d["tenants"]["fleet-a"]["result"] == "applied", d["tenants"]["fleet-a"]
'
run_fl 0 status
assert_contains "$OUT" "3 tenants: 2 applied, 0 failed, 1 skipped"
FC_SUM=$(tree_sum "$FC")

# ---- resources that left the release; the mass-delete guard ------------------------------
# Only network/vpc stays: 3 of the 4 resources of every active tenant leave.
git rm -q release/10-api.yaml
sed -i '/^---$/,$d' release/00-base.yaml
commit . "only the network"
E=$(git rev-parse HEAD)
promote_apply 0
assert_contains "$OUT" "rollout done"
for f in "$CANARY/us-east-1" "$EARLY/us-east-1" "$FA/eu-west-1"; do
	assert_matches "$(marker_line "$f.state")" "^marker $E "
	assert_eq "$(resource_lines "$f.state" | cut -d' ' -f2,3 | LC_ALL=C sort | tr '\n' ,)" \
		"bucket uploads,network vpc,service api,service worker,"
done
before=$(tree_sum "$ACC")
run_fl 1 apply --driver "dir:$ACC" --prune
assert_contains "$OUT" "rollout refused by the mass-delete guard (--allow-mass-delete overrides)"
assert_eq "$(tree_sum "$ACC")" "$before"
assert_note "$F" "$E" "a refused prune: the plan status is a failure saying why" '
c = d["contexts"]["flotilla/plan"]
assert c["state"] == "failure", c
assert re.fullmatch(r"refused: deletes 9 of 12 resources, over the guard of 50%", c["description"]), c
'
run_fl 0 apply --driver "dir:$ACC" --prune --allow-mass-delete
assert_contains "$OUT" "rollout done"
for f in "$CANARY/us-east-1" "$EARLY/us-east-1" "$FA/eu-west-1"; do
	assert_matches "$(marker_line "$f.state")" "^marker $E [0-9a-f]{32} [0-9a-f]{32} 1$"
	assert_eq "$(resource_lines "$f.state" | cut -d' ' -f2,3)" "network vpc"
done
# The suspended tenant is left as it is, pruning or not.
assert_eq "$(tree_sum "$FC")" "$FC_SUM"
assert_note "$F" "$E" "the allowed prune: the plan status is a success" '
assert d["contexts"]["flotilla/plan"]["state"] == "success", d["contexts"]["flotilla/plan"]
'

# ---- a removed tenant file ----------------------------------------------------------------
before=$(tree_sum "$FA")
git rm -q tenants/fleet-a.yaml
commit . "fleet-a file removed"
G=$(git rev-parse HEAD)
promote_apply 0
assert_contains "$OUT" "rollout done"
assert_eq "$(tree_sum "$FA")" "$before"
# SPEC 4: "A tenant file that disappears without being decommissioned first is
# reported and its account is left untouched."
WHY="tenant file tenants/fleet-a.yaml was removed without decommissioning the tenant first: its account is left untouched"
assert_contains "$ERR" "fleet-a: $WHY"
assert_note "$F" "$G" "a removed tenant is reported in the note, skipped, and counted in no wave" '
t = d["tenants"]["fleet-a"]
assert t["result"] == "skipped" and "wave" not in t, t
assert t["error"] == "'"$WHY"'", t["error"]
assert d["contexts"]["flotilla/wave/fleet"]["description"] == "applied 1/2, 1 suspended", d["contexts"]["flotilla/wave/fleet"]
'
run_fl 0 apply --driver "dir:$ACC" --prune --allow-mass-delete
assert_eq "$(tree_sum "$FA")" "$before"
