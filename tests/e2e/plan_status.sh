#!/usr/bin/env bash
# `flotilla plan` sets flotilla/plan (SPEC 5) as apply does: success with the
# plan's summary, failure when the fleet is invalid, in the git note and on
# the forges fleet.yaml names (a fake GitHub here, tests/servers/fake_forge.py),
# posted once however often plan runs. With --since (an untrusted head, SPEC 7)
# the status entries are the base's: a head pointing them elsewhere is ignored.
source "$(dirname "$0")/lib.sh"

SERVER=$FL_SOURCE/tests/servers/fake_forge.py
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT

# forge NAME VAR ARGS...: start a fake GitHub; VAR gets its port.
forge() {
	local name=$1 var=$2 out="$TMP/$1.out"
	shift 2
	python3 "$SERVER" --kind github "$@" >"$out" 2>"$TMP/$name.err" &
	PIDS+=($!)
	for _ in $(seq 100); do
		[[ -s $out ]] && break
		sleep 0.05
	done
	[[ $(head -1 "$out") =~ ^PORT\ ([0-9]+)$ ]] || fail "fake forge $name did not start: $(cat "$TMP/$name.err")"
	printf -v "$var" '%s' "${BASH_REMATCH[1]}"
}
statuses() {
	curl -sf "http://127.0.0.1:$1/_statuses" || fail "GET /_statuses on port $1 failed"
}
stat() {
	curl -sf "http://127.0.0.1:$1/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["'"$2"'"])'
}

forge github GH --token gh-token --repo acme/fleet
forge other EVIL --token gh-token --repo evil/fleet
export GITHUB_TOKEN=gh-token

F=$TMP/fleet
ACC=$TMP/acc
git_repo "$F"
mkdir -p "$F/release" "$F/tenants"
# write_fleet PORT REPO: fleet.yaml with its GitHub entry at that fake forge.
write_fleet() {
	cat >"$F/fleet.yaml" <<EOF
version: 1
name: plans
waves:
  - name: canary
    select: { canary: true }
  - name: fleet
    select: rest
status:
  - { type: git-notes }
  - { type: github, repo: $2, token_env: GITHUB_TOKEN, api_url: "http://127.0.0.1:$1" }
EOF
}
write_fleet "$GH" acme/fleet
cat >"$F/release/10-api.yaml" <<EOF
kind: service
name: api
spec: { image: "registry.example/api:1", owner: "{{tenant.name}}" }
EOF
for i in 1 2 3; do
	printf 'name: t%s\naccount: "10000000000%s"\nregions: [us-east-1]\n%s\n' "$i" "$i" \
		"$([[ $i == 1 ]] && echo 'canary: true')" >"$F/tenants/t$i.yaml"
done
commit "$F" "fleet"
cd "$F"
A=$(git rev-parse HEAD)

# ---- a valid fleet: success with the summary, posted once over three runs ------------
# The second run finds the first plan in the note; the third runs as in a fresh
# CI checkout, without the note, and finds it on the forge instead.
for run in 1 2 3; do
	[[ $run == 3 ]] && git update-ref -d refs/notes/flotilla
	run_fl 0 plan --driver "dir:$ACC"
	assert_not_contains "$ERR" "warning"
done
assert_note "$F" "$A" "plan set flotilla/plan in the note" '
c = d["contexts"]
assert list(c) == ["flotilla/plan"], c
assert c["flotilla/plan"]["state"] == "success", c
assert c["flotilla/plan"]["description"] == "3 tenants change: +3 ~0 -0", c
'
assert_json "$(statuses "$GH")" "github got flotilla/plan once" '
assert [(s["sha"], s["context"], s["state"], s["description"]) for s in d] == [
    ("'"$A"'", "flotilla/plan", "success", "3 tenants change: +3 ~0 -0")], d
'
assert_eq "$(stat "$GH" posts)" 1
assert_eq "$(stat "$GH" reads)" 2
# --tenant plans a part: the commit's statuses are left alone.
git update-ref -d refs/notes/flotilla
run_fl 0 plan --driver "dir:$ACC" --tenant t2
assert_eq "$(stat "$GH" reads)" 2
assert_eq "$(note "$F" "$A")" ""
# apply after plan: the same summary, which the forge shows already.
run_fl 0 apply --driver "dir:$ACC"
assert_json "$(statuses "$GH")" "apply kept the plan status" '
assert [s["description"] for s in d if s["context"] == "flotilla/plan"] == ["3 tenants change: +3 ~0 -0"], d
'

# ---- an invalid tenant: failure, naming the problem, through fleet.yaml's writers ----
printf 'colour: blue\n' >>"$F/tenants/t2.yaml"
commit "$F" "a typo"
B=$(git rev-parse HEAD)
run_fl 1 plan --driver "dir:$ACC"
assert_contains "$ERR" "tenants/t2.yaml"
assert_not_contains "$ERR" "warning"
assert_note "$F" "$B" "the note of an invalid fleet" '
p = d["contexts"]["flotilla/plan"]
assert p["state"] == "failure", p
assert p["description"] == "invalid fleet: tenants/t2.yaml:5: unknown key \x27colour\x27 in tenant", p
'
assert_json "$(statuses "$GH")" "github got the failure" '
s = d[-1]
assert (s["sha"], s["context"], s["state"]) == ("'"$B"'", "flotilla/plan", "failure"), s
assert s["description"] == "invalid fleet: tenants/t2.yaml:5: unknown key \x27colour\x27 in tenant", s
assert len(s["description"]) <= 140, s
'

# ---- a broken release: fleet.yaml loads, so its writers get the failure too ----
git checkout -q "$A" -- tenants/t2.yaml
cp "$F/release/10-api.yaml" "$TMP/10-api.yaml"
printf 'kind: service\nname: [unclosed\n' >"$F/release/10-api.yaml"
commit "$F" "a broken release"
R=$(git rev-parse HEAD)
run_fl 1 plan --driver "dir:$ACC"
assert_json "$(statuses "$GH")" "github got the release's failure" '
s = d[-1]
assert (s["sha"], s["context"], s["state"]) == ("'"$R"'", "flotilla/plan", "failure"), s
assert s["description"].startswith("invalid fleet: release/10-api.yaml:"), s
'
cp "$TMP/10-api.yaml" "$F/release/10-api.yaml"

# ---- fleet.yaml itself invalid: no forge entry can be trusted, the note alone --------
printf 'colour: blue\n' >>"$F/fleet.yaml"
commit "$F" "a typo in fleet.yaml"
C=$(git rev-parse HEAD)
n=$(stat "$GH" requests)
run_fl 1 plan --driver "dir:$ACC"
assert_note "$F" "$C" "the note of an invalid fleet.yaml" '
p = d["contexts"]["flotilla/plan"]
assert p["state"] == "failure" and p["description"].startswith("invalid fleet: fleet.yaml:"), p
'
assert_eq "$(stat "$GH" requests)" "$n"

# ---- plan --since: an untrusted head points the statuses elsewhere ---------------------
git checkout -q -b pr "$A"
write_fleet "$EVIL" evil/fleet
sed -i 's/api:1/api:2/' release/10-api.yaml
commit "$F" "pull request: a new image, and statuses to another forge"
D=$(git rev-parse HEAD)
run_fl 0 plan --driver "dir:$ACC" --since "$A"
assert_eq "$(stat "$EVIL" requests)" 0
assert_json "$(statuses "$GH")" "the base's forge got the head's plan" '
s = d[-1]
assert (s["sha"], s["context"], s["state"]) == ("'"$D"'", "flotilla/plan", "success"), s
'
assert_note "$F" "$D" "the note of the head" 'assert d["contexts"]["flotilla/plan"]["state"] == "success", d'
# The same head with an invalid tenant: failure, still through the base's entries.
printf 'colour: blue\n' >>"$F/tenants/t3.yaml"
commit "$F" "pull request: a typo"
E=$(git rev-parse HEAD)
run_fl 1 plan --driver "dir:$ACC" --since "$A"
assert_eq "$(stat "$EVIL" requests)" 0
assert_json "$(statuses "$GH")" "the base's forge got the failure" '
s = d[-1]
assert (s["sha"], s["state"]) == ("'"$E"'", "failure"), s
assert s["description"] == "invalid fleet: tenants/t3.yaml:5: unknown key \x27colour\x27 in tenant", s
'
echo "plan_status: ok"
