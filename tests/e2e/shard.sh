#!/usr/bin/env bash
# apply --shard K/N (SPEC 4, docs/rollout.md "Sharding"): three shards of one
# rollout, run at the same time like the jobs of a CI matrix, coordinating
# only through a smart-HTTP remote (tests/servers/git_http_server.py).
#  1. 30 tenants in three waves: every tenant is applied and verified
#     exactly once (the verify log), no verify of a wave runs before every
#     verify of the wave before it has (the barrier), the remote's note
#     holds each shard's record of each wave and the waves' success.
#  2. A tenant's verify fails in the second wave (tolerance 0): all three
#     shards halt at its end (exit 4), no tenant of the third wave is
#     written, and each reports the wave's counts over all shards.
#     Run again once fixed, under a new --shard-run: a shard alone waits
#     (the records of the halted run are not this run's), and the three
#     together finish the rollout.
#  3. A shard killed with SIGKILL in the middle of the third wave: the
#     others wait at the barrier; the shard run again finishes its part,
#     and all three end done with every account at the commit.
#  4. Usage: --shard needs a remote --repo, a valid K/N, a --shard-run,
#     and not --tenant;
#     a shard whose partners never come exits 5 after --barrier-timeout.
source "$(dirname "$0")/lib.sh"

shard_remote
[[ -z ${KEEP:-} ]] || trap 'kill "${TEST_SERVER_PIDS[@]}"' EXIT
ACCOUNTS=$TMP/accounts
LOG=$TMP/verify.log

# ---- the fleet: 3 canaries, 9 early tenants, 18 others ----

W=$TMP/work
git_repo "$W"
mkdir -p "$W/release" "$W/tenants" "$W/ci"
cat >"$W/fleet.yaml" <<'EOF'
version: 1
name: sharded
vars:
  color: { type: string, default: blue }
services: [app]
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 3
    verify:
      - { name: check, run: ["ci/verify"], timeout: 1m }
  - name: early
    select: { labels: { ring: early } }
    max_parallel: 3
    failure_tolerance: 0
    verify:
      - { name: check, run: ["ci/verify"], timeout: 1m }
  - name: fleet
    select: rest
    max_parallel: 6
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
  color: "{{vars.color}}"
  tenant: "{{tenant.name}}"
EOF
# The verify logs "<tenant> <wave>" when it passes. A tenant named in
# fail-<tenant> fails; the first tenant of wave fleet, when kill-one exists,
# kills the flotilla process that runs it (a runner lost mid-wave).
cat >"$W/ci/verify" <<EOF
#!/bin/sh
[ -e "$TMP/fail-\$FLOTILLA_TENANT" ] && { echo "broken on purpose"; exit 1; }
[ -e "$TMP/slow" ] && [ "\$FLOTILLA_WAVE" = fleet ] && sleep 6
if [ "\$FLOTILLA_WAVE" = fleet ] && [ -e "$TMP/kill-one" ] && mkdir "$TMP/killed" 2>/dev/null; then
	p=\$\$
	while [ "\$p" -gt 1 ]; do
		p=\$(awk '/^PPid:/ { print \$2 }' /proc/\$p/status)
		if tr '\\0' ' ' </proc/\$p/cmdline | grep -q -- '--shard'; then
			echo "\$FLOTILLA_TENANT" >"$TMP/killed/tenant"
			tr '\\0' ' ' </proc/\$p/cmdline >"$TMP/killed/cmdline"
			kill -9 "\$p"
			sleep 5
			exit 1
		fi
	done
fi
echo "\$FLOTILLA_TENANT \$FLOTILLA_WAVE" >>"$LOG"
EOF
chmod +x "$W/ci/verify"
for i in $(seq -w 1 30); do
	if ((10#$i <= 3)); then
		shard_tenant "$W" "t$i" "1000000000$i" "canary: true"
	elif ((10#$i <= 12)); then
		shard_tenant "$W" "t$i" "1000000000$i" "labels: { ring: early }"
	else
		shard_tenant "$W" "t$i" "1000000000$i" ""
	fi
done
commit "$W" "a fleet of 30"
publish_fleet "$W"
C1=$(git -C "$W" rev-parse HEAD)

# shards OUTDIR ARGS...: shards 1/3, 2/3 and 3/3 at once (run_shards, lib.sh).
shards() {
	run_shards "$1" "$URL" "$ACCOUNTS" "${@:2}"
}

# server_note: the remote's ledger of C1, as one document.
server_note() {
	note "$TMP/srv/fleet.git" "$C1"
}

# ---- 1. every tenant exactly once, the waves in order ----

shards "$TMP/run1" --shard-run r1 --barrier-timeout 2m
for k in 1 2 3; do
	assert_eq "$(cat "$TMP/run1/$k.rc")" 0 "shard $k/3 exit status ($(cat "$TMP/run1/$k.err"))"
	assert_contains "$TMP/run1/$k.out" "shard $k/3"
	assert_contains "$TMP/run1/$k.out" "rollout done"
done
assert_eq "$(wc -l <"$LOG")" 30 "verify runs for 30 tenants"
assert_eq "$(cut -d' ' -f1 "$LOG" | sort | uniq -d)" "" "tenants verified more than once"
assert_eq "$(cut -d' ' -f1 "$LOG" | sort -u | wc -l)" 30 "tenants verified"
# The barrier: the log's waves are in order, none before the last of the one before.
assert_eq "$(cut -d' ' -f2 "$LOG" | uniq | tr '\n' ' ')" "canary early fleet " "waves in the verify log"
# The three shards share the work: each applied some tenants of the fleet.
for k in 1 2 3; do
	grep -q "fleet .*applied" "$TMP/run1/$k.out" || fail "shard $k/3 printed no end of wave fleet"
done
assert_note "$TMP/srv/fleet.git" "$C1" "the remote's note after three shards" '
w = d["waves"]
for name, total in (("canary", 3), ("early", 9), ("fleet", 18)):
    s = w[name]["shards"]
    assert sorted(s) == ["1/3", "2/3", "3/3"], (name, sorted(s))
    assert sum(r["total"] for r in s.values()) == total, (name, s)
    assert sum(r["done"] for r in s.values()) == total, (name, s)
    assert all(r["failed"] == 0 for r in s.values()), (name, s)
    assert all(0 < r["total"] < total for r in s.values()), ("one shard took the whole wave", name, s)
    assert "succeeded_at" in w[name], name
    c = d["contexts"]["flotilla/wave/" + name]
    assert c["state"] == "success" and c["description"].startswith("applied %d/%d" % (total, total)), c
assert len(d["tenants"]) == 30, len(d["tenants"])
assert all(t["result"] == "applied" for t in d["tenants"].values())
'
for i in $(seq -w 1 30); do
	state=$ACCOUNTS/1000000000$i/eu-west-1.state
	[[ -f $state ]] || fail "t$i: no $state"
	assert_contains "$(marker_line "$state")" "$C1"
done

# ---- 2. a failure in one shard halts all three at the wave's end ----

echo "# second" >>"$W/release/app.yaml"
sed -i 's/color: "{{vars.color}}"/color: "dark {{vars.color}}"/' "$W/release/app.yaml"
commit "$W" "a darker color"
git -C "$W" push -q "$TMP/srv/fleet.git" main
C2=$(git -C "$W" rev-parse HEAD)
: >"$LOG"
touch "$TMP/fail-t07"
shards "$TMP/run2" --shard-run r2 --barrier-timeout 2m
for k in 1 2 3; do
	assert_eq "$(cat "$TMP/run2/$k.rc")" 4 "shard $k/3 exit status after a failure ($(cat "$TMP/run2/$k.err"))"
	assert_contains "$TMP/run2/$k.out" "rollout halted"
	assert_contains "$TMP/run2/$k.out" "halted: 1 of 9 failed (tolerance 0)"
done
assert_eq "$(grep -c ' fleet$' "$LOG" || true)" 0 "verify runs of wave fleet after early halted"
assert_eq "$(grep -c ' canary$' "$LOG")" 3 "canary verify runs"
for i in $(seq 13 30); do
	state=$ACCOUNTS/1000000000$i/eu-west-1.state
	assert_not_contains "$(marker_line "$state")" "$C2"
done
assert_note "$TMP/srv/fleet.git" "$C2" "the remote's note after a halt" '
c = d["contexts"]
assert c["flotilla/wave/early"]["state"] == "failure", c
assert c["flotilla/wave/fleet"]["state"] == "error", c
assert d["tenants"]["t07"]["result"] == "failed", d["tenants"]["t07"]
assert "fleet" not in d["waves"] or "shards" not in d["waves"]["fleet"], d["waves"]
'

# Fixed, and run again: the halted run's records do not count for the next.
rm "$TMP/fail-t07"
cp "$LOG" "$TMP/verify2.log"
run_fl 5 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard 1/3 --shard-run r2-alone --barrier-timeout 3s
assert_contains "$OUT" "wave 'canary' is waiting for shards 2/3, 3/3 to finish it"
: >"$LOG"
shards "$TMP/run2b" --shard-run r2b --barrier-timeout 2m
for k in 1 2 3; do
	assert_eq "$(cat "$TMP/run2b/$k.rc")" 0 "shard $k/3 after the fix ($(cat "$TMP/run2b/$k.err"))"
done
# Verified once across both runs: t07 and the tenants its shard had not
# started when it halted, now; the others not again.
assert_contains "$LOG" "t07 early"
assert_eq "$(cat "$TMP/verify2.log" "$LOG" | grep ' early$' | sort | uniq -d)" "" "early tenants verified twice"
assert_eq "$(cat "$TMP/verify2.log" "$LOG" | grep -c ' early$')" 9 "early verify runs over both runs"
assert_note "$TMP/srv/fleet.git" "$C2" "the remote's note after the fix" '
for name in ("canary", "early", "fleet"):
    assert d["contexts"]["flotilla/wave/" + name]["state"] == "success", d["contexts"]
assert d["waves"]["early"]["shards"]["1/3"]["run"] == "r2b", d["waves"]["early"]
'

# ---- 2c. a failure in one shard stops the others in the middle of the wave ----

# Wave fleet: 18 tenants, max_parallel 6 (2 a shard), tolerance 0, each
# verify 6 s. t13 (its shard's first) fails at once; its shard shares the
# failure, and the others, sharing every 5 s, start no tenant after they
# see it. Without that they would apply all 12 of theirs.
sed -i 's/dark/darkened/' "$W/release/app.yaml"
commit "$W" "darkened"
git -C "$W" push -q "$TMP/srv/fleet.git" main
C2C=$(git -C "$W" rev-parse HEAD)
: >"$LOG"
touch "$TMP/fail-t13" "$TMP/slow"
shards "$TMP/run2c" --shard-run r2c --barrier-timeout 2m
rm "$TMP/fail-t13" "$TMP/slow"
for k in 1 2 3; do
	assert_eq "$(cat "$TMP/run2c/$k.rc")" 4 "shard $k/3 after t13 failed ($(cat "$TMP/run2c/$k.err"))"
	assert_contains "$TMP/run2c/$k.out" "halted: 1 of 18 failed (tolerance 0)"
done
fleet_runs=$(grep -c ' fleet$' "$LOG" || true)
((fleet_runs <= 9)) || fail "the other shards verified $fleet_runs tenants of wave fleet after t13 failed (at most 9)"
started=0
for i in $(seq 13 30); do
	grep -q "$C2C" "$ACCOUNTS/1000000000$i/eu-west-1.state" && started=$((started + 1))
done
((started <= 10)) || fail "$started accounts of wave fleet written after t13 failed (at most 10)"

# ---- 3. a shard killed mid-wave, run again ----

sed -i 's/dark/darker/' "$W/release/app.yaml"
commit "$W" "darker still"
git -C "$W" push -q "$TMP/srv/fleet.git" main
C3=$(git -C "$W" rev-parse HEAD)
: >"$LOG"
touch "$TMP/kill-one"
shards "$TMP/run3" --shard-run r3 --barrier-timeout 2m &
runner=$!
for _ in $(seq 600); do
	[[ -e $TMP/killed/cmdline ]] && break
	sleep 0.1
done
[[ -e $TMP/killed/cmdline ]] || fail "no shard reached wave fleet"
[[ $(cat "$TMP/killed/cmdline") =~ --shard\ ([123])/3 ]] || fail "killed: $(cat "$TMP/killed/cmdline")"
K=${BASH_REMATCH[1]}
killed_tenant=$(cat "$TMP/killed/tenant")
for _ in $(seq 300); do
	[[ -e $TMP/run3/$K.rc ]] && break
	sleep 0.1
done
assert_eq "$(cat "$TMP/run3/$K.rc")" 137 "the killed shard's exit status"
# The others are waiting at the barrier: run the lost shard again.
sleep 1
for k in 1 2 3; do
	[[ $k == "$K" ]] || [[ ! -e $TMP/run3/$k.rc ]] || fail "shard $k/3 ended without the killed shard: $(cat "$TMP/run3/$k.out")"
done
run_fl 0 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard "$K/3" --shard-run r3 --barrier-timeout 2m
assert_contains "$OUT" "rollout done"
wait "$runner"
for k in 1 2 3; do
	[[ $k == "$K" ]] && continue
	assert_eq "$(cat "$TMP/run3/$k.rc")" 0 "shard $k/3 after the killed one came back ($(cat "$TMP/run3/$k.err"))"
done
assert_eq "$(cut -d' ' -f1 "$LOG" | sort | uniq -d)" "" "tenants verified twice after the rerun"
assert_eq "$(cut -d' ' -f1 "$LOG" | sort -u | wc -l)" 30 "tenants verified after the rerun"
assert_contains "$LOG" "$killed_tenant fleet"
for i in $(seq -w 1 30); do
	state=$ACCOUNTS/1000000000$i/eu-west-1.state
	assert_contains "$(marker_line "$state")" "$C3"
done
assert_note "$TMP/srv/fleet.git" "$C3" "the remote's note after the rerun" '
for name in ("canary", "early", "fleet"):
    assert d["contexts"]["flotilla/wave/" + name]["state"] == "success", d["contexts"]
assert sum(r["done"] for r in d["waves"]["fleet"]["shards"].values()) == 18, d["waves"]["fleet"]
'

# ---- 4. usage, and partners that never come ----

run_fl 2 apply --repo "$W" --driver "dir:$ACCOUNTS" --shard 1/3 --shard-run x
assert_contains "$ERR" "--shard needs --repo URL"
for bad in 0/3 4/3 3 1/0 a/b 1/3x; do
	run_fl 2 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard "$bad" --shard-run x
	assert_contains "$ERR" "--shard '$bad' is not K/N"
done
run_fl 2 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard 1/3
assert_contains "$ERR" "--shard needs --shard-run ID"
run_fl 2 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard 1/3 --shard-run 'a b'
assert_contains "$ERR" "got 'a b'"
run_fl 2 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard-run x
assert_contains "$ERR" "--shard-run needs --shard"
run_fl 2 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard 1/3 --shard-run x --tenant t01
assert_contains "$ERR" "--shard and --tenant do not go together"
run_fl 2 apply --repo "$URL" --driver "dir:$ACCOUNTS" --barrier-timeout 1m
assert_contains "$ERR" "needs --shard"
# A fourth commit, and a shard of two whose partner never runs.
sed -i 's/darker/darkest/' "$W/release/app.yaml"
commit "$W" "darkest"
git -C "$W" push -q "$TMP/srv/fleet.git" main
run_fl 5 apply --repo "$URL" --driver "dir:$ACCOUNTS" --shard 1/2 --shard-run r4 --barrier-timeout 3s
assert_contains "$OUT" "rollout waiting: another shard has not finished the wave"
assert_contains "$OUT" "wave 'canary' is waiting for shard 2/2 to finish it"
