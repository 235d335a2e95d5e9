#!/usr/bin/env bash
# Forge statuses (SPEC 5): a fleet whose fleet.yaml lists git-notes plus a
# GitHub Enterprise, a GitLab and a Gitea writer, each pointing at a fake
# forge on loopback (tests/servers/fake_forge.py, which enforces that
# forge's API). `flotilla apply` goes through the waves; every forge then
# holds each wave's final state, the number of requests grows with waves,
# not tenants, and the git note still has everything. A repeated run, a
# manual gate, and a missing token (which never fails the rollout) too.
source "$(dirname "$0")/lib.sh"

SERVER=$FL_SOURCE/tests/servers/fake_forge.py
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT

# forge KIND VAR ARGS...: start a fake forge; VAR gets its port.
forge() {
	local kind=$1 var=$2 out="$TMP/$1.out"
	shift 2
	python3 "$SERVER" --kind "$kind" "$@" >"$out" 2>"$TMP/$kind.err" &
	PIDS+=($!)
	for _ in $(seq 100); do
		[[ -s $out ]] && break
		sleep 0.05
	done
	[[ $(head -1 "$out") =~ ^PORT\ ([0-9]+)$ ]] || fail "fake $kind forge did not start: $(cat "$TMP/$kind.err")"
	printf -v "$var" '%s' "${BASH_REMATCH[1]}"
}

# statuses PORT: what a fake forge accepted, as JSON.
statuses() {
	curl -sf "http://127.0.0.1:$1/_statuses" || fail "GET /_statuses on port $1 failed"
}

# stat PORT KEY: a counter of a fake forge: requests, reads (GET), posts (POST).
stat() {
	curl -sf "http://127.0.0.1:$1/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["'"$2"'"])'
}

forge github GH --token gh-token --repo acme/fleet --prefix /api/v3
forge gitlab GL --token gl-token --project platform/acme-fleet
forge gitea GT --token gt-token --repo acme/fleet
export GITHUB_TOKEN=gh-token GITLAB_TOKEN=gl-token GITEA_TOKEN=gt-token

# ---- a fleet of 30 tenants in 3 waves -----------------------------------------
F=$TMP/fleet
ACC=$TMP/acc
git_repo "$F"
mkdir -p "$F/release" "$F/tenants"
# write_fleet MORE: fleet.yaml, with MORE as more keys of the last wave.
write_fleet() {
	cat >"$F/fleet.yaml" <<EOF
version: 1
name: forges
waves:
  - name: canary
    select: { canary: true }
  - name: early
    select: { labels: { ring: early } }
    max_parallel: 4
  - name: fleet
    select: rest
    max_parallel: 5
$1
status:
  - { type: git-notes }
  - { type: github, repo: acme/fleet, token_env: GITHUB_TOKEN, api_url: "http://127.0.0.1:$GH/api/v3",
      target_url: "https://ci.example/fleet/{{sha}}/{{wave}}" }
  - { type: gitlab, project: platform/acme-fleet, token_env: GITLAB_TOKEN, api_url: "http://127.0.0.1:$GL/api/v4/" }
  - { type: gitea, repo: acme/fleet, token_env: GITEA_TOKEN, api_url: "http://127.0.0.1:$GT/api/v1" }
EOF
}
release() {
	cat >"$F/release/10-api.yaml" <<EOF
kind: service
name: api
spec: { image: "registry.example/api:$1", owner: "{{tenant.name}}", region: "{{region}}" }
EOF
}
write_fleet ""
release 1
for i in $(seq -w 1 30); do
	if ((10#$i <= 2)); then
		extra="canary: true"
	elif ((10#$i <= 10)); then
		extra="labels: { ring: early }"
	else
		extra=""
	fi
	printf 'name: t%s\naccount: "1000000000%s"\nregions: [us-east-1]\n%s\n' "$i" "$i" "$extra" >"$F/tenants/t$i.yaml"
done
commit "$F" "fleet"
cd "$F"
A=$(git rev-parse HEAD)

run_fl 0 apply --driver "dir:$ACC"
assert_contains "$OUT" "rollout done"
assert_not_contains "$ERR" "could not be written"

# Each forge: every context's final state, on this commit, in that forge's words.
check_final() { # PORT KIND SHA STATES_PY
	assert_json "$(statuses "$1")" "$2: final states on $3" '
last = {}
count = {}
for s in d:
    assert s["sha"] == "'"$3"'", s
    last[s["context"]] = s
    count[s["context"]] = count.get(s["context"], 0) + 1
want = '"$4"'
got = {c: (s["state"], s["description"]) for c, s in last.items()}
assert got == want, got
'
}
FINAL='{"flotilla/plan": ("success", "30 tenants change: +30 ~0 -0"),
        "flotilla/wave/canary": ("success", "applied 2/2"),
        "flotilla/wave/early": ("success", "applied 8/8"),
        "flotilla/wave/fleet": ("success", "applied 20/20")}'
check_final "$GH" github "$A" "$FINAL"
check_final "$GL" gitlab "$A" "$FINAL"
check_final "$GT" gitea "$A" "$FINAL"

# Calls grow with waves, not tenants: one read of the commit's statuses, then
# the plan, then per wave its start and its end.
for port in "$GH" "$GL" "$GT"; do
	n=$(stat "$port" posts)
	((n <= 7)) || fail "30 tenants in 3 waves made $n posts on port $port, expected at most 7"
	n=$(stat "$port" reads)
	((n == 1)) || fail "the commit's statuses were read $n times on port $port, expected once"
	assert_json "$(statuses "$port")" "at most 3 statuses per context" '
from collections import Counter
c = Counter(s["context"] for s in d)
assert max(c.values()) <= 3, c
'
done
# GitLab runs a wave being applied; the target_url template went to GitHub.
assert_json "$(statuses "$GL")" "gitlab: running, then success" '
assert [s["state"] for s in d if s["context"] == "flotilla/wave/fleet"] == ["running", "success"], d
assert all(s["target_url"] is None for s in d), d
'
assert_json "$(statuses "$GH")" "github: target_url filled in" '
assert [s["target_url"] for s in d if s["context"] == "flotilla/wave/early"][-1] == "https://ci.example/fleet/'"$A"'/early", d
assert [s["target_url"] for s in d if s["context"] == "flotilla/plan"][-1] == "https://ci.example/fleet/'"$A"'/", d
assert all(s["api_version"] == "2022-11-28" for s in d), d
'

# The note still has everything, progress included.
assert_note "$F" "$A" "the note holds every context and tenant" '
c = d["contexts"]
assert sorted(c) == ["flotilla/plan", "flotilla/wave/canary", "flotilla/wave/early", "flotilla/wave/fleet"], sorted(c)
assert all(v["state"] == "success" for v in c.values()), c
assert len(d["tenants"]) == 30, len(d["tenants"])
'

# ---- a manual gate, a repeated run, a missing token -----------------------------
write_fleet "    gate: manual" # on the fleet wave, the last one
release 2
commit "$F" "api 2, gate the fleet wave"
B=$(git rev-parse HEAD)
for port in "$GH" "$GL" "$GT"; do curl -sf -X POST "http://127.0.0.1:$port/_reset" >/dev/null; done

run_fl 5 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "could not be written"
# Three runs at the gate (a CI job re-run every few minutes): the later two
# read each forge's statuses back and post nothing.
declare -A POSTS
for port in "$GH" "$GL" "$GT"; do POSTS[$port]=$(stat "$port" posts); done
run_fl 5 apply --driver "dir:$ACC"
run_fl 5 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "warning"
for port in "$GH" "$GL" "$GT"; do
	assert_eq "$(stat "$port" posts)" "${POSTS[$port]}"
	assert_eq "$(stat "$port" reads)" 3
	assert_json "$(statuses "$port")" "each status once on port $port" '
from collections import Counter
c = Counter((s["context"], s["state"], s["description"]) for s in d)
assert max(c.values()) == 1, c
assert ("flotilla/wave/fleet", "pending", "awaiting promotion") in c, c
'
done
# Run again while the gate holds: every forge shows every status already, so
# nothing is posted; Gitea has no token.
unset GITEA_TOKEN
run_fl 5 apply --driver "dir:$ACC"
assert_contains "$ERR" "could not be written: gitea status"
assert_contains "$ERR" "environment variable 'GITEA_TOKEN' is not set"
assert_not_contains "$ERR" "gitlab"
export GITEA_TOKEN=gt-token

run_fl 0 promote HEAD --wave fleet -m "looks good"
run_fl 0 apply --driver "dir:$ACC"
assert_contains "$OUT" "rollout done"
assert_not_contains "$ERR" "could not be written"
FINAL='{"flotilla/plan": ("success", "30 tenants change: +0 ~30 -0"),
        "flotilla/wave/canary": ("success", "applied 2/2"),
        "flotilla/wave/early": ("success", "applied 8/8"),
        "flotilla/wave/fleet": ("success", "applied 20/20")}'
check_final "$GH" github "$B" "$FINAL"
check_final "$GL" gitlab "$B" "$FINAL"
check_final "$GT" gitea "$B" "$FINAL"
assert_json "$(statuses "$GL")" "gitlab: fleet pending once, then running, then success" '
assert [s["state"] for s in d if s["context"] == "flotilla/wave/fleet"] == ["pending", "running", "success"], d
'
assert_note "$F" "$B" "the note of the gated commit" '
c = d["contexts"]
assert c["flotilla/wave/fleet"]["state"] == "success", c
assert c["flotilla/wave/fleet"]["description"] == "applied 20/20", c
assert len(d["tenants"]) == 30, len(d["tenants"])
'
# ---- GitHub's limit of 1000 statuses per commit and context ------------------------
# Another tool filled flotilla/plan on the next commit: GitHub refuses more
# with 422, which apply reports by name; the rollout goes on, other contexts too.
release 3
commit "$F" "api 3"
C=$(git rev-parse HEAD)
curl -sf -X POST "http://127.0.0.1:$GH/_seed" -d '{"sha": "'"$C"'", "context": "flotilla/plan",
  "state": "pending", "description": "someone else", "count": 1000}' >/dev/null || fail "seeding GitHub failed"
run_fl 0 promote HEAD --wave fleet -m "again"
run_fl 0 apply --driver "dir:$ACC"
assert_contains "$OUT" "rollout done"
assert_contains "$ERR" "warning: 1 status could not be written: github status 'flotilla/plan': the forge holds its maximum of 1000 statuses for this commit and context, and takes no more (HTTP 422): not posted"
assert_contains "$ERR" "warning: github status 'flotilla/plan': the forge holds its maximum of 1000 statuses for this commit and context: its latest state was not posted"
assert_json "$(statuses "$GH")" "github: the other contexts of C were posted" '
mine = [s for s in d if s["sha"] == "'"$C"'"]
assert sum(1 for s in mine if s["context"] == "flotilla/plan") == 1000, len(mine)
assert [s["description"] for s in mine if s["context"] == "flotilla/wave/fleet"][-1] == "applied 20/20", mine[-3:]
'
echo "forge_status: ok"
