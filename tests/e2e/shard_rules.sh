#!/usr/bin/env bash
# apply --shard K/N: three rules of sharding (docs/rollout.md "Sharding")
# that tests/e2e/shard.sh does not catch when broken. Three shards run at
# once through a smart-HTTP remote, as there.
#  1. max_parallel is the wave's: each shard runs max_parallel / N tenants
#     of a wave at once. Wave fleet has max_parallel 6 and a tolerance of
#     6, so strict mode (tolerance + 1 in flight) does not hold it back;
#     its verify counts the tenants of its own shard in verify at once.
#     Every shard reaches 2 and none more (the whole 6, without the rule).
#     No shard sets flotilla/plan: each planned its own tenants only.
#  2. A tenant file removed while its account still has state: shard 1
#     reports it (stderr, and the tenant in the remote's note) and shards
#     2 and 3 say nothing, so it is reported once. The tenant is one of
#     shard 3's, to tell "shard 1 reports" from "each reports its own".
#  3. A commit that decommissions 4 of shard 2's tenants (4 of the 39
#     resources left: over the guard's 10%): shard 2 refuses it, exit 1, and
#     sets flotilla/plan to failure on the remote; shards 1 and 3, under
#     the guard, leave it alone and wait for shard 2 at the first barrier.
source "$(dirname "$0")/lib.sh"

shard_remote
ACCOUNTS=$TMP/accounts
LOG=$TMP/verify.log

# ---- the fleet: 3 canaries, 37 others ----

W=$TMP/work
git_repo "$W"
mkdir -p "$W/release" "$W/tenants" "$W/ci"
cat >"$W/fleet.yaml" <<'EOF'
version: 1
name: sharded
services: [app]
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 3
  - name: fleet
    select: rest
    max_parallel: 6
    failure_tolerance: 6
    verify:
      - { name: check, run: ["ci/verify"], timeout: 1m }
driver: { type: dir, root: accounts }
status:
  - { type: git-notes }
EOF
cat >"$W/release/app.yaml" <<'EOF'
kind: config
name: app
service: app
spec:
  tenant: "{{tenant.name}}"
EOF
# The verify finds its shard K in the command line of the flotilla process
# above it, marks its tenant in flight in flight/K, and while $TMP/probe
# exists holds it a second, then counts the marks. It logs
# "<tenant> <K> <count>". A tenant's mark is gone before its verify ends,
# so the count is never more than the tenants the shard has in flight.
cat >"$W/ci/verify" <<EOF
#!/bin/sh
p=\$\$ k=
while [ "\$p" -gt 1 ] && [ -z "\$k" ]; do
	p=\$(awk '/^PPid:/ { print \$2 }' /proc/\$p/status)
	k=\$(tr '\\0' ' ' </proc/\$p/cmdline | sed -n 's|.*--shard \\([0-9]*\\)/.*|\\1|p')
done
[ -n "\$k" ] || { echo "no --shard above the verify"; exit 1; }
mkdir -p "$TMP/flight/\$k"
: >"$TMP/flight/\$k/\$FLOTILLA_TENANT"
[ -e "$TMP/probe" ] && sleep 1
n=\$(ls "$TMP/flight/\$k" | wc -l)
echo "\$FLOTILLA_TENANT \$k \$n" >>"$LOG"
rm "$TMP/flight/\$k/\$FLOTILLA_TENANT"
EOF
chmod +x "$W/ci/verify"
for i in $(seq -w 1 40); do
	if ((10#$i <= 3)); then
		shard_tenant "$W" "t$i" "1000000000$i" "canary: true"
	else
		shard_tenant "$W" "t$i" "1000000000$i" ""
	fi
done
commit "$W" "a fleet of 40"
publish_fleet "$W"
C1=$(git -C "$W" rev-parse HEAD)

# shards OUTDIR ARGS...: shards 1/3, 2/3 and 3/3 at once (run_shards, lib.sh).
shards() {
	run_shards "$1" "$URL" "$ACCOUNTS" "${@:2}"
}

# push MSG: commits the work tree and pushes it to the remote.
push() {
	commit "$W" "$1"
	git -C "$W" push -q "$TMP/srv/fleet.git" main
}

# ---- 1. each shard runs max_parallel / N tenants of a wave at once ----

touch "$TMP/probe"
shards "$TMP/run1" --shard-run r1 --barrier-timeout 2m
rm "$TMP/probe"
for k in 1 2 3; do
	assert_eq "$(cat "$TMP/run1/$k.rc")" 0 "shard $k/3 exit status ($(cat "$TMP/run1/$k.out" "$TMP/run1/$k.err"))"
	assert_contains "$TMP/run1/$k.out" "rollout done"
done
assert_eq "$(wc -l <"$LOG")" 37 "verify runs of wave fleet"
cp "$LOG" "$TMP/fleet.log"
for k in 1 2 3; do
	# Fewer tenants than the whole max_parallel would hide a broken rule.
	mine=$(awk -v k="$k" '$2 == k' "$LOG" | wc -l)
	((mine >= 6)) || fail "shard $k/3 has $mine tenants of wave fleet, the test needs 6: $(sort -k2 "$LOG")"
	most=$(awk -v k="$k" '$2 == k && $3 > m { m = $3 } END { print m + 0 }' "$LOG")
	assert_eq "$most" 2 "most tenants of shard $k/3 in verify at once (max_parallel 6 over 3 shards)"
done
assert_note "$TMP/srv/fleet.git" "$C1" "the remote's note after three shards" '
c = d["contexts"]
assert c["flotilla/wave/fleet"]["state"] == "success", c
assert c["flotilla/wave/fleet"]["description"].startswith("applied 37/37"), c["flotilla/wave/fleet"]
assert "flotilla/plan" not in c, ("a shard set the plan status", c["flotilla/plan"])
'

# A tenant of shard K in wave fleet, the Nth: from the verify log.
tenant_of() {
	awk -v k="$1" '$2 == k { print $1 }' "$TMP/fleet.log" | sort | sed -n "${2}p"
}

# ---- 2. shard 1 alone reports a tenant file removed from the fleet ----

gone=$(tenant_of 3 1)
gone_account=$(sed -n 's/^account: "\(.*\)"$/\1/p' "$W/tenants/$gone.yaml")
git -C "$W" rm -q "tenants/$gone.yaml"
push "$gone leaves without a decommission"
C2=$(git -C "$W" rev-parse HEAD)
: >"$LOG"
shards "$TMP/run2" --shard-run r2 --barrier-timeout 2m
for k in 1 2 3; do
	assert_eq "$(cat "$TMP/run2/$k.rc")" 0 "shard $k/3 exit status ($(cat "$TMP/run2/$k.out" "$TMP/run2/$k.err"))"
done
assert_contains "$TMP/run2/1.err" "$gone: tenant file tenants/$gone.yaml was removed without decommissioning the tenant first"
for k in 2 3; do
	assert_not_contains "$TMP/run2/$k.err" "was removed"
	assert_not_contains "$TMP/run2/$k.out" "was removed"
done
assert_note "$TMP/srv/fleet.git" "$C2" "the remote's note after $gone was removed" "
t = d['tenants']
assert t['$gone']['result'] == 'skipped', t['$gone']
assert 'was removed without decommissioning' in json.dumps(t['$gone']), t['$gone']
assert len(t) == 40, len(t)
"
# Its account is left as it was.
assert_contains "$(marker_line "$ACCOUNTS/$gone_account/eu-west-1.state")" "$C1"

# ---- 3. only a shard refused by the mass-delete guard sets flotilla/plan ----

decommissioned=()
for n in 1 2 3 4; do
	t=$(tenant_of 2 "$n")
	printf 'state: decommissioned\n' >>"$W/tenants/$t.yaml"
	decommissioned+=("$ACCOUNTS/$(sed -n 's/^account: "\(.*\)"$/\1/p' "$W/tenants/$t.yaml")")
done
# accounts_sum DIR...: tree_sum of each.
accounts_sum() {
	local d
	for d; do
		tree_sum "$d"
	done
}
before=$(accounts_sum "${decommissioned[@]}")
push "four of shard 2's tenants decommissioned"
C3=$(git -C "$W" rev-parse HEAD)
shards "$TMP/run3" --shard-run r3 --barrier-timeout 3s
assert_eq "$(cat "$TMP/run3/2.rc")" 1 "shard 2/3 exit status ($(cat "$TMP/run3/2.out" "$TMP/run3/2.err"))"
assert_contains "$TMP/run3/2.out" "rollout refused by the mass-delete guard"
assert_eq "$(accounts_sum "${decommissioned[@]}")" "$before" "the decommissioned accounts after the refusal"
for k in 1 3; do
	assert_eq "$(cat "$TMP/run3/$k.rc")" 5 "shard $k/3 exit status ($(cat "$TMP/run3/$k.out" "$TMP/run3/$k.err"))"
	assert_contains "$TMP/run3/$k.out" "wave 'canary' is waiting for shard 2/3 to finish it"
done
assert_note "$TMP/srv/fleet.git" "$C3" "the remote's note after shard 2 was refused" '
p = d["contexts"]["flotilla/plan"]
assert p["state"] == "failure", p
assert p["description"].startswith("refused: deletes 4 of 39 resources"), p
'
