#!/usr/bin/env bash
# The safety net of SPEC 4, driven through the real binary: no shortcut past
# the canaries with apply --tenant; the identity of converged tenants;
# suspended tenants and unmanaged resources reported as what they are; and
# SIGTERM during apply stops cleanly after the tenant in flight.
source "$(dirname "$0")/lib.sh"

F=$TMP/fleet
ACC=$TMP/acc
VLOG=$TMP/verify.log
export FL_VLOG=$VLOG
git_repo "$F"
mkdir -p "$F/release" "$F/tenants" "$F/ci"
cat >"$F/fleet.yaml" <<'EOF'
version: 1
name: safety
waves:
  - name: canary
    select: { canary: true }
    verify:
      - name: check
        run: ["ci/check", "{{tenant.name}}"]
  - name: fleet
    select: rest
    max_parallel: 1
    verify:
      - name: check
        run: ["ci/check", "{{tenant.name}}"]
EOF
# ci/check TENANT: logs the tenant; fails for the tenants in ci/failing;
# sleeps for those in ci/slow (so a signal can land mid-wave).
cat >"$F/ci/check" <<'EOF'
#!/bin/sh
echo "$1" >>"$FL_VLOG"
grep -qx "$1" ci/slow 2>/dev/null && sleep 2
if grep -qx "$1" ci/failing 2>/dev/null; then exit 1; fi
exit 0
EOF
chmod +x "$F/ci/check"
: >"$F/ci/failing"
: >"$F/ci/slow"
cat >"$F/release/api.yaml" <<'EOF'
kind: service
name: api
spec: { image: "registry.example/api:1", owner: "{{tenant.name}}" }
EOF
printf 'name: canary-a\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' >"$F/tenants/canary-a.yaml"
for i in 1 2 3 4; do
	printf 'name: fleet-%s\naccount: "30000000000%s"\nregions: [eu-west-1]\n' "$i" "$i" >"$F/tenants/fleet-$i.yaml"
done
printf 'name: fleet-s\naccount: "300000000009"\nregions: [eu-west-1]\nstate: suspended\n' >"$F/tenants/fleet-s.yaml"
commit "$F" "fleet"
cd "$F"

run_fl 0 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  fleet +success +applied 4/5, 1 suspended$'
F1=$ACC/300000000001/eu-west-1.state

# ---- suspended: never counted as converged or applied ---------------------------------------
run_fl 0 plan --driver "dir:$ACC"
assert_contains "$OUT" "no changes: 5 tenants converged, 1 suspended"
run_fl 0 plan --driver "dir:$ACC" --format json
assert_json "$OUT_FILE" "plan --format json counts the suspended tenant apart" '
s = d["summary"]
assert (s["tenants"], s["tenants_suspended"], s["tenants_changed"]) == (6, 1, 0), s
'

# ---- no shortcut past the canaries ------------------------------------------------------------
sed -i 's/api:1/api:2/' release/api.yaml
commit . "api 2"
B=$(git rev-parse HEAD)
run_fl 5 apply --driver "dir:$ACC" --tenant fleet-3
assert_contains "$OUT" "wave 'canary' has not succeeded for ${B:0:12}"
assert_not_contains "$OUT" "applied 0/0"
assert_not_contains "$F1" "api:2"
assert_not_contains "$ACC/300000000003/eu-west-1.state" "api:2"

# A failing canary: the whole rollout halts, and --tenant exits 4 naming the canary wave.
echo canary-a >ci/failing
commit . "canary check fails"
C=$(git rev-parse HEAD)
run_fl 4 apply --driver "dir:$ACC"
run_fl 4 apply --driver "dir:$ACC" --tenant fleet-3
assert_contains "$OUT" "wave 'canary' has not succeeded for ${C:0:12} (failure: halted: 1 of 1 failed (tolerance 0))"
assert_not_contains "$ACC/300000000003/eu-west-1.state" "api:2"
run_fl 0 status
assert_matches "$OUT" '^  wave/canary +failure'

# The canary passes: the whole rollout goes through, and then --tenant may write any tenant.
: >ci/failing
commit . "canary check passes"
run_fl 0 apply --driver "dir:$ACC"
assert_contains "$ACC/300000000003/eu-west-1.state" "api:2"
run_fl 0 apply --driver "dir:$ACC" --tenant fleet-3
assert_contains "$OUT" "rollout done"

# ---- identity, converged or not -----------------------------------------------------------
# fleet-2's directory now answers as another account (copied by hand).
cp "$ACC/300000000001/account.json" "$ACC/300000000002/account.json"
run_fl 1 plan --driver "dir:$ACC"
assert_contains "$OUT" "the account reports id '300000000001', but the manifest names '300000000002'"
: >"$VLOG"
sed -i 's/api:2/api:3/' release/api.yaml
commit . "api 3"
run_fl 4 apply --driver "dir:$ACC"
assert_matches "$OUT" '^  fleet +failure +halted: 1 of 5 failed \(tolerance 0\)$'
assert_not_contains "$VLOG" "fleet-2"
assert_not_contains "$ACC/300000000002/eu-west-1.state" "api:3"
run_fl 0 status
assert_contains "$OUT" "the account reports id '300000000001', but the manifest names '300000000002'"
printf '{"account":"300000000002","tenant":"fleet-2"}\n' >"$ACC/300000000002/account.json"
run_fl 0 apply --driver "dir:$ACC"

# ---- unmanaged resources: reported by drift, left alone ------------------------------------------
echo 'u dns zone {"domain":"fleet-1.example"}' >>"$F1"
run_fl 0 drift --driver "dir:$ACC"
assert_contains "$OUT" "? dns/zone (unmanaged: not created by flotilla, left alone)"
assert_contains "$OUT" "unmanaged: 1 resource in 1 tenant not created by flotilla, left alone"
assert_contains "$OUT" "drift: 0 tenants differ"
run_fl 0 plan --driver "dir:$ACC" --refresh --format json
assert_json "$OUT_FILE" "plan --refresh --format json lists the unmanaged resource" '
t = [t for t in d["tenants"] if t["name"] == "fleet-1"][0]
assert t["regions"][0]["unmanaged"] == [{"kind": "dns", "name": "zone"}], t
assert d["summary"]["unmanaged"] == 1, d["summary"]
'
run_fl 0 drift --driver "dir:$ACC" --fix
assert_contains "$F1" 'u dns zone {"domain":"fleet-1.example"}'

# ---- SIGTERM during apply: the tenant in flight finishes, no other starts -----------------------
printf 'fleet-1\nfleet-2\nfleet-3\nfleet-4\n' >ci/slow
sed -i 's/api:3/api:4/' release/api.yaml
commit . "api 4, slow checks"
: >"$VLOG"
"$FLOTILLA" apply --driver "dir:$ACC" >"$TMP/term.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
	grep -q '^fleet-' "$VLOG" 2>/dev/null && break
	sleep 0.05
done
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 5
assert_contains "$TMP/term.out" "rollout stopped by a signal after in-flight tenants finished"
assert_eq "$(grep -c '^fleet-' "$VLOG")" 1
n=$(grep -l "api:4" "$ACC"/30000000000[1-4]/eu-west-1.state | wc -l)
assert_eq "$n" 1
run_fl 0 apply --driver "dir:$ACC"
assert_eq "$(grep -l "api:4" "$ACC"/30000000000[1-4]/eu-west-1.state | wc -l)" 4

echo "ok: safety_net"
