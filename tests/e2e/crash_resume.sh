#!/usr/bin/env bash
# SPEC 4, level-triggered resume: a fleet of 210 tenants, `flotilla apply`
# killed with SIGKILL at 20 random moments and run again each time, then run
# to the end. Afterwards every account is at the revision, the note says so,
# and every verify ran exactly once per tenant, region and revision.
#
# The moments are random but replayable: the seed is printed first, and
# FL_CRASH_SEED=<seed> runs the same sequence of sleeps again (the timing of
# the machine still varies). FL_CRASH_KILLS overrides the number of kills.
source "$(dirname "$0")/lib.sh"

SEED=${FL_CRASH_SEED:-$$}
KILLS=${FL_CRASH_KILLS:-20}
RANDOM=$SEED
echo "crash_resume: seed $SEED (replay with FL_CRASH_SEED=$SEED)"

export VERIFY_LOG="$TMP/verify.log"
: >"$VERIFY_LOG"
apply_pid=

# The verify wrappers of a killed apply outlive it on purpose, and write their
# receipts under $TMP: wait for them before checking, and before removing $TMP.
wrappers() {
	pgrep -f -- "__verify-exec $TMP/" || true
}
wait_wrappers() {
	local i
	for ((i = 0; i < 300; i++)); do
		[[ -z $(wrappers) ]] && return 0
		sleep 0.1
	done
	return 1
}
cleanup() {
	if [[ -n $apply_pid ]]; then
		kill -9 "$apply_pid" 2>/dev/null || true
		wait "$apply_pid" 2>/dev/null || true
	fi
	wait_wrappers || true
	rm -rf "$TMP"
}
trap cleanup EXIT

# ---- the fleet: 3 waves, 7 templates in 6 files, 210 tenants, every 7th in 2 regions ----

NTENANTS=210
fleet=$TMP/fleet
git_repo "$fleet"
mkdir -p "$fleet/tenants" "$fleet/release" "$fleet/ci"
cat >"$fleet/fleet.yaml" <<'EOF'
version: 1
name: crash
vars:
  display_name: { type: string, required: true }
  seats:        { type: integer, min: 1, default: 10 }
  color:        { type: string, pattern: "#[0-9a-f]{6}", default: "#1f6feb" }
services: [api, portal, reports, cache]
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 1
    failure_tolerance: 0
    bake: 0s
    verify:
      - name: smoke
        run: ["ci/verify", "{{tenant.name}}", "{{region}}"]
        timeout: 1m
  - name: early
    select: { labels: { ring: early } }
    max_parallel: 25%
    failure_tolerance: 0
    verify:
      - name: smoke
        run: ["ci/verify", "{{tenant.name}}", "{{region}}"]
        timeout: 1m
  - name: fleet
    select: rest
    max_parallel: 8
    failure_tolerance: 0
    verify:
      - name: smoke
        run: ["ci/verify", "{{tenant.name}}", "{{region}}"]
        timeout: 1m
prune: false
guard: { max_delete_percent: 10 }
driver: { type: dir, root: accounts }
status:
  - { type: git-notes }
EOF
cat >"$fleet/release/00-base.yaml" <<'EOF'
kind: network
name: vpc
spec:
  cidr: 10.0.0.0/16
  region: "{{region}}"
  tags: { tenant: "{{tenant.name}}", account: "{{tenant.account}}" }
---
kind: bucket
name: uploads
spec:
  name: "{{tenant.name}}-uploads-{{region}}"
  versioning: true
EOF
cat >"$fleet/release/10-api.yaml" <<'EOF'
kind: service
name: api
service: api
spec:
  image: registry.example/api:1.42.0
  seats: "{{vars.seats}}"
  env: { TENANT: "{{tenant.name}}", TITLE: "{{vars.display_name}}", REGION: "{{region}}" }
EOF
cat >"$fleet/release/20-portal.yaml" <<'EOF'
kind: service
name: portal
service: portal
spec:
  image: registry.example/portal:3.1.0
  theme: { title: "{{vars.display_name}}", color: "{{vars.color}}" }
EOF
cat >"$fleet/release/30-reports.yaml" <<'EOF'
kind: job
name: nightly-reports
service: reports
spec:
  schedule: "0 2 * * *"
  output: "s3://{{tenant.name}}-uploads-{{region}}/reports/"
EOF
cat >"$fleet/release/40-cache.yaml" <<'EOF'
kind: cache
name: redis
service: cache
spec:
  size: small
  region: "{{region}}"
EOF
cat >"$fleet/release/50-dns.yaml" <<'EOF'
kind: dns
name: zone
spec:
  domain: "{{tenant.name}}.{{region}}.example.com"
EOF
# The verify: a short random wait, then one line appended, on success, the
# way a real smoke test reports at its end.
cat >"$fleet/ci/verify" <<'EOF'
#!/usr/bin/env bash
set -eu
sleep "0.0$((RANDOM % 3))"
printf '%s %s %s\n' "$FLOTILLA_TENANT" "$FLOTILLA_REVISION" "$FLOTILLA_REGION" >>"$VERIFY_LOG"
echo "smoke of $1 in $2: ok"
EOF
chmod +x "$fleet/ci/verify"

regions=(us-east-1 us-west-2 eu-west-1 eu-central-1 ap-southeast-2)
services=("[api]" "[api, portal]" "[api, portal, reports]" "[portal, cache]" "[api, reports, cache]" "[]")
expected_regions=0
for ((i = 0; i < NTENANTS; i++)); do
	name=$(printf 't%03d' "$i")
	account=$(printf '1000000%05d' "$i")
	r1=${regions[i % 5]}
	if ((i % 7 == 3)); then
		rs="[$r1, ${regions[(i + 2) % 5]}]"
		expected_regions=$((expected_regions + 2))
	else
		rs="[$r1]"
		expected_regions=$((expected_regions + 1))
	fi
	{
		echo "name: $name"
		echo "account: \"$account\""
		echo "regions: $rs"
		if ((i < 2)); then
			echo "canary: true"
		elif ((i < 22)); then
			echo "labels: { ring: early, size: s$((i % 3)) }"
		else
			echo "labels: { size: s$((i % 3)) }"
		fi
		echo "services: ${services[i % 6]}"
		echo "vars: { display_name: \"Tenant $i\", seats: $((10 + i)) }"
	} >"$fleet/tenants/$name.yaml"
done
commit "$fleet" "a fleet of $NTENANTS tenants"
rev=$(git -C "$fleet" rev-parse HEAD)
run_fl 0 validate --repo "$fleet"
assert_contains "$OUT" "$NTENANTS tenants"

# tenant account wave region, one line per tenant-region, in tenant order.
for ((i = 0; i < NTENANTS; i++)); do
	name=$(printf 't%03d' "$i")
	account=$(printf '1000000%05d' "$i")
	wave=fleet
	if ((i < 2)); then
		wave=canary
	elif ((i < 22)); then
		wave=early
	fi
	echo "$name $account $wave ${regions[i % 5]}"
	if ((i % 7 == 3)); then
		echo "$name $account $wave ${regions[(i + 2) % 5]}"
	fi
done >"$TMP/expected"
[[ $(wc -l <"$TMP/expected") == "$expected_regions" ]] || fail "expected list is off"

# ---- how long an uninterrupted apply takes, on a copy, to aim the kills ----

cp -r "$fleet" "$TMP/probe"
t0=$(date +%s%N)
VERIFY_LOG="$TMP/probe.log" run_fl 0 apply --repo "$TMP/probe" --driver "dir:$TMP/probe-acc"
full_ms=$((($(date +%s%N) - t0) / 1000000))
assert_contains "$OUT" "rollout done"
[[ $(wc -l <"$TMP/probe.log") == "$expected_regions" ]] || fail "the probe run verified $(wc -l <"$TMP/probe.log") tenant-regions, expected $expected_regions"
rm -rf "$TMP/probe" "$TMP/probe-acc" "$TMP/probe.log"
# Each kill comes after lo..hi ms, hi aimed from what is left: the verify
# lines so far tell how far the rollout got, so the remaining kills spread
# over the remaining work (from the first plan to the last verify) with some
# to spare, and the last few often hit a finished or nearly finished run.
lo=10
aim() {
	local left_ms=$((full_ms * (expected_regions - $(wc -l <"$VERIFY_LOG")) / expected_regions))
	hi=$((lo + left_ms * 26 / 10 / (KILLS - k + 1)))
	((hi < 100)) && hi=100
	((hi > 1500)) && hi=1500
	true
}
echo "crash_resume: $NTENANTS tenants, $expected_regions tenant-regions; an uninterrupted apply takes ${full_ms} ms"

# ---- kill, run again, kill ... ----

acc=$TMP/acc
hits=0
outlived=0
for ((k = 1; k <= KILLS; k++)); do
	aim
	ms=$((lo + RANDOM % (hi - lo + 1)))
	"$FLOTILLA" apply --repo "$fleet" --driver "dir:$acc" >"$TMP/run.$k.log" 2>&1 &
	apply_pid=$!
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -9 "$apply_pid" 2>/dev/null || true
	code=0
	wait "$apply_pid" 2>/dev/null || code=$?
	apply_pid=
	if [[ $code == 137 ]]; then
		hits=$((hits + 1))
		n=$(wrappers | wc -l)
		outlived=$((outlived + n))
		what="killed, $n wrappers running on"
	else
		# It ended by itself before the kill: it must have ended well.
		[[ $code == 0 ]] || fail "apply $k (after $((k - 1)) kills) exited $code by itself:
$(cat "$TMP/run.$k.log")"
		what="had finished"
	fi
	printf 'crash_resume: kill %2d after %4d ms: %s (%d verify lines so far)\n' \
		"$k" "$ms" "$what" "$(wc -l <"$VERIFY_LOG")"
done

# ---- and once more, to the end ----

# apply_to_end WHAT: run apply, which must end by itself (a hang fails the
# test here, with the progress it printed, rather than at CTest's timeout)
# with exit 0 and every status written.
limit=$((full_ms / 1000 * 10 + 60))
apply_to_end() {
	local code=0
	timeout -s KILL "$limit" "$FLOTILLA" apply --repo "$fleet" --driver "dir:$acc" >"$OUT_FILE" 2>"$ERR_FILE" || code=$?
	OUT=$(cat "$OUT_FILE")
	ERR=$(cat "$ERR_FILE")
	[[ $code != 137 ]] || fail "$1: apply did not end within $limit s (an uninterrupted run takes $full_ms ms); its progress:
$OUT
--- stderr
$ERR"
	[[ $code == 0 ]] || fail "$1: apply exited $code
$OUT
--- stderr
$ERR"
	assert_contains "$OUT" "rollout done"
	assert_not_contains "$ERR" "could not be written"
}
apply_to_end "the run after $KILLS kills"
wait_wrappers || fail "verify wrappers still running 30 s after the last apply: $(wrappers | tr '\n' ' ')"

# Once converged, apply again: nothing to write and no verify runs again.
lines=$(wc -l <"$VERIFY_LOG")
apply_to_end "the run after convergence"
[[ $(wc -l <"$VERIFY_LOG") == "$lines" ]] || fail "an apply of a converged fleet ran verifies again:
$(tail -n +$((lines + 1)) "$VERIFY_LOG" | head)"

# (1) every account, every region, at the revision; no other region files.
while read -r name account wave region; do
	f=$acc/$account/$region.state
	[[ -f $f ]] || fail "$name: no state file $f"
	head=$(head -n 2 "$f")
	[[ ${head%%$'\n'*} == "flotilla-state 1" ]] || fail "$name: $f: bad header: $head"
	marker=${head#*$'\n'}
	[[ $marker == "marker $rev "* ]] || fail "$name: $f: marker is not at $rev: $marker"
done <"$TMP/expected"
have=$(cd "$acc" && find . -name '*.state' | sed 's|^\./||' | sort)
want=$(awk '{ print $2 "/" $4 ".state" }' "$TMP/expected" | sort)
[[ $have == "$want" ]] || fail "state files differ from the tenant-regions:
$(diff <(echo "$want") <(echo "$have"))"

# (2) observed afresh, nothing left to do.
run_fl 0 plan --repo "$fleet" --driver "dir:$acc" --refresh --detailed-exitcode

# (3) the note: every wave succeeded, every tenant applied in its wave with
# one passed verify per region.
note "$fleet" "$rev" >"$TMP/note.json"
[[ -s $TMP/note.json ]] || fail "no note on $rev"
python3 - "$TMP/note.json" "$TMP/expected" "$rev" "$acc" <<'PY' || fail "the note does not record a complete rollout"
import json, sys
note = json.load(open(sys.argv[1]))
rev, acc = sys.argv[3], sys.argv[4]
want, marker_fp = {}, {}
errors = []
for line in open(sys.argv[2]):
    name, account, wave, region = line.split()
    want.setdefault(name, (wave, []))[1].append(region)
    # marker <revision> <tenant_fp> <inputs_fp> <resources>: one tenant_fp in all its regions
    fp = open("%s/%s/%s.state" % (acc, account, region)).read().split("\n")[1].split()[2]
    if marker_fp.setdefault(name, fp) != fp:
        errors.append("%s: markers disagree on the tenant fingerprint: %s, %s" % (name, marker_fp[name], fp))
if note.get("revision") != rev:
    errors.append("revision %r" % note.get("revision"))
ctx = note.get("contexts", {})
for c in ["flotilla/plan", "flotilla/wave/canary", "flotilla/wave/early", "flotilla/wave/fleet"]:
    if ctx.get(c, {}).get("state") != "success":
        errors.append("context %s: %r" % (c, ctx.get(c)))
for w in ["canary", "early", "fleet"]:
    if "succeeded_at" not in note.get("waves", {}).get(w, {}):
        errors.append("wave %s has no succeeded_at" % w)
tenants = note.get("tenants", {})
if sorted(tenants) != sorted(want):
    errors.append("tenants in the note: %d, expected %d; missing %s, extra %s" % (
        len(tenants), len(want), sorted(set(want) - set(tenants))[:5], sorted(set(tenants) - set(want))[:5]))
for name, (wave, regions) in sorted(want.items()):
    t = tenants.get(name)
    if t is None:
        continue
    # Every account started empty, so "applied" (not "unchanged") for all.
    if t.get("result") != "applied" or t.get("wave") != wave or "error" in t or t.get("fingerprint") != marker_fp[name]:
        errors.append("%s: result %r wave %r (expected %s) error %r fingerprint %r (markers: %s)" % (
            name, t.get("result"), t.get("wave"), wave, t.get("error"), t.get("fingerprint"), marker_fp[name]))
    got = sorted(v["region"] for v in t.get("verify", []))
    if got != sorted(regions):
        errors.append("%s: verify records for regions %s, expected one for each of %s" % (name, got, sorted(regions)))
    for v in t.get("verify", []):
        if not v.get("passed") or v.get("name") != "smoke" or v.get("output") != "smoke of %s in %s: ok\n" % (name, v.get("region")):
            errors.append("%s: verify record %r" % (name, v))
if errors:
    print("\n".join(errors[:20]) + ("\n... %d problems" % len(errors) if len(errors) > 20 else ""), file=sys.stderr)
    sys.exit(1)
PY

# (4) the verify log: each (tenant, revision, region) exactly once.
dups=$(sort "$VERIFY_LOG" | uniq -d | head -20)
[[ -z $dups ]] || fail "verify ran more than once for:
$dups"
want=$(awk -v rev="$rev" '{ print $1 " " rev " " $4 }' "$TMP/expected" | sort)
have=$(sort "$VERIFY_LOG")
[[ $have == "$want" ]] || fail "the verify log differs from one line per tenant-region:
$(diff <(echo "$want") <(echo "$have") | head -20)"
receipts=$(find "$fleet/.git/flotilla/verify/$rev" -type f ! -name '*.lock' ! -name '*.tmp.*' | wc -l)
[[ $receipts == "$expected_regions" ]] || fail "$receipts verify receipts, expected $expected_regions"

# (5) only account.json, the region files and the writers' lock: a temporary
# file a kill left in an account is removed by the next writer of that
# account, and every file was written again after its last interrupted
# write. (sed, not head: head would stop reading, and find's SIGPIPE would
# end the test without a word under pipefail.)
strays=$(cd "$acc" && find . -type f ! -name '*.state' ! -name 'account.json' ! -name '.lock' | sed -n 1,10p)
[[ -z $strays ]] || fail "files left in the accounts: $strays"

echo "crash_resume: seed $SEED: $hits of $KILLS kills hit a running apply, $outlived verify wrappers outlived their apply; $(wc -l <"$VERIFY_LOG") verify lines for $expected_regions tenant-regions, no duplicates"
