#!/usr/bin/env bash
# `flotilla plan --pr N` keeps one comment on pull request N with the
# Markdown plan (SPEC 5), on a fake GitHub, GitLab and Gitea
# (tests/servers/fake_forge.py, which enforces each forge's comment API and
# GitHub's 65,536-character limit): run three times with a changed plan, the
# one flotilla comment (found by its marker at the start of the body) is
# edited in place to the latest plan, and other people's comments are left
# alone. A plan over GitHub's limit is cut with a note; without a token (a
# fork's pull request) the plan is printed and exits as without --pr; with
# --since the forge comes from the base, whatever the head says.
source "$(dirname "$0")/lib.sh"

# forge KIND NAME VAR ARGS...: start a fake forge; VAR gets its port.
forge() {
	start_fake_forge "$3" --kind "$1" "${@:4}"
}
comments() {
	curl -sf "http://127.0.0.1:$1/_comments" >"$TMP/comments.json" || fail "GET /_comments on port $1 failed"
	echo "$TMP/comments.json"
}
stat() {
	curl -sf "http://127.0.0.1:$1/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["'"$2"'"])'
}
seed() {
	curl -sf -X POST --data-binary "$2" "http://127.0.0.1:$1/_seed_comments" >/dev/null || fail "seeding comments failed"
}

MARKER='<!-- flotilla:plan prs -->'
OTHERS='[
  {"pr": 7, "body": "LGTM once the plan is green", "user": "alice"},
  {"pr": 7, "body": "quoting it:\n<!-- flotilla:plan prs -->\nold plan", "user": "bob"},
  {"pr": 7, "body": "<!-- flotilla:plan other -->\nanother fleet", "user": "carol"},
  {"pr": 8, "body": "<!-- flotilla:plan prs -->\nthe plan of another pull request", "user": "flotilla-bot"}
]'

# check_comments PORT MDFILE NAME: exactly one flotilla comment on pull request 7, which is
# the marker and then MDFILE's plan; the seeded comments as they were. Prints its id and edits.
check_comments() {
	local doc
	doc=$(comments "$1")
	MD=$2 OTHERS=$OTHERS python3 - "$doc" "$3" <<'PY' || fail "$3: comments on $1: $(head -c 3000 "$doc")"
import json, os, sys
d = json.load(open(sys.argv[1]))
want = "<!-- flotilla:plan prs -->\n" + open(os.environ["MD"], encoding="utf-8").read()
ours = [c for c in d if c["pr"] == 7 and c["body"].startswith("<!-- flotilla:plan prs -->\n")]
assert len(ours) == 1, ("%s: flotilla comments on pull request 7" % sys.argv[2], ours)
assert ours[0]["user"] == "flotilla-bot", ours[0]
assert ours[0]["body"] == want, ("%s: the comment is not the plan" % sys.argv[2], ours[0]["body"][:300], want[:300])
seeded = json.loads(os.environ["OTHERS"])
others = [(c["pr"], c["body"], c["user"], c["edits"]) for c in d if c["id"] != ours[0]["id"] and not c["system"]]
assert others == [(s["pr"], s["body"], s["user"], 0) for s in seeded], others
print(ours[0]["id"], ours[0]["edits"])
PY
}

ACC=$TMP/acc
# fleet DIR KIND PORT WHERE: a fleet repository whose status names that forge.
fleet() {
	local dir=$1 kind=$2 port=$3 where=$4 key=repo prefix=""
	[[ $kind == gitlab ]] && key=project prefix=/api/v4
	[[ $kind == gitea ]] && prefix=/api/v1
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants"
	cat >"$dir/fleet.yaml" <<EOF
version: 1
name: prs
waves:
  - name: canary
    select: { canary: true }
  - name: fleet
    select: rest
status:
  - { type: git-notes }
  - { type: $kind, $key: "$where", token_env: FORGE_TOKEN, api_url: "http://127.0.0.1:$port$prefix" }
EOF
	# A value that tries to close the spec's code block and <details>, and to forge the marker.
	cat >"$dir/release/10-api.yaml" <<EOF
kind: service
name: api
spec: { image: "registry.example/api:1", owner: "{{tenant.name}}", note: "\`\`\`\` </details> $MARKER" }
EOF
	for i in 1 2 3; do
		printf 'name: t%s\naccount: "10000000000%s"\nregions: [us-east-1]\n%s\n' "$i" "$i" \
			"$([[ $i == 1 ]] && echo 'canary: true')" >"$dir/tenants/t$i.yaml"
	done
	commit "$dir" "fleet"
}

export FORGE_TOKEN=the-token
for kind in github gitlab gitea; do
	where=acme/fleet
	[[ $kind == gitlab ]] && where=group/fleet
	if [[ $kind == gitlab ]]; then
		forge "$kind" "$kind" PORT --token the-token --project "$where"
		seed "$PORT" '{"pr": 7, "body": "added 1 commit", "user": "alice", "system": true}'
	else
		forge "$kind" "$kind" PORT --token the-token --repo "$where"
	fi
	[[ $kind == github ]] && PORT_GITHUB=$PORT
	seed "$PORT" "$OTHERS"
	F=$TMP/fleet-$kind
	fleet "$F" "$kind" "$PORT" "$where"
	cd "$F"
	id=
	for run in 1 2 3; do
		# The plan changes between runs: a new image each time.
		sed -i "s/api:[0-9]*/api:$run/" release/10-api.yaml
		[[ $run == 1 ]] || commit "$F" "image $run"
		run_fl 0 plan --driver "dir:$ACC" --format markdown
		cp "$OUT_FILE" "$TMP/want.md"
		run_fl 0 plan --driver "dir:$ACC" --pr 7
		assert_contains "$OUT" "Plan of fleet prs" # the plan as asked for (text), the comment in Markdown
		assert_not_contains "$ERR" "warning"
		assert_contains "$ERR" "$kind: plan comment on pull request 7 $([[ $run == 1 ]] && echo created || echo edited)"
		read -r got edits <<<"$(check_comments "$PORT" "$TMP/want.md" "$kind run $run")"
		[[ -n $id ]] || id=$got
		assert_eq "$got" "$id" # edited in place, never a second comment
		assert_eq "$edits" "$((run - 1))"
		assert_contains "$TMP/want.md" "api:$run"
	done
	# The created resource's spec is in the comment, collapsed, in a fence its value cannot close.
	assert_contains "$TMP/want.md" '<details><summary>spec of <code>us-east-1 service/api</code></summary>'
	assert_contains "$TMP/want.md" '`````json'
	# The same plan again: nothing to edit.
	n=$(stat "$PORT" edits)
	run_fl 0 plan --driver "dir:$ACC" --pr 7
	assert_contains "$ERR" "$kind: plan comment on pull request 7 unchanged"
	assert_eq "$(stat "$PORT" edits)" "$n"
	assert_eq "$(stat "$PORT" rejected)" 0
done

# ---- usage ----------------------------------------------------------------------------
cd "$TMP/fleet-github"
for bad in 0 -1 abc 7x "" 1.5 +7 99999999999999999999999; do
	run_fl 2 plan --driver "dir:$ACC" --pr "$bad"
	assert_contains "$ERR" "is not a pull request number (a positive integer)"
done
run_fl 2 plan --driver "dir:$ACC" --pr 7 --tenant t1
assert_contains "$ERR" "--pr and --tenant cannot be combined"
git_repo "$TMP/plain"
cp -r "$TMP/fleet-github/release" "$TMP/fleet-github/tenants" "$TMP/plain/"
sed '/type: github/d' "$TMP/fleet-github/fleet.yaml" >"$TMP/plain/fleet.yaml"
commit "$TMP/plain" "no forge"
run_fl 2 plan --repo "$TMP/plain" --driver "dir:$ACC" --pr 7
assert_contains "$ERR" "flotilla plan: --pr 7: fleet.yaml has no github, gitlab or gitea status entry to comment through"

# ---- no token: a pull request from a fork ----------------------------------------------
forge github nofork NOFORK --token the-token --repo acme/fleet
fleet "$TMP/fork" github "$NOFORK" acme/fleet
cd "$TMP/fork"
unset FORGE_TOKEN
run_fl 3 plan --driver "dir:$ACC" --detailed-exitcode
cp "$OUT_FILE" "$TMP/without.out"
run_fl 3 plan --driver "dir:$ACC" --detailed-exitcode --pr 7
cmp -s "$OUT_FILE" "$TMP/without.out" || fail "plan --pr without a token printed another plan"
assert_eq "$(grep -c comment "$ERR_FILE")" 1
assert_contains "$ERR" "warning: plan comment not written: github comment on pull request 7: environment variable 'FORGE_TOKEN' is not set (a pull request from a fork gets no secrets)"
run_fl 0 plan --driver "dir:$ACC" --pr 7
assert_eq "$(stat "$NOFORK" requests)" 0
export FORGE_TOKEN=the-token

# ---- a plan over GitHub's limit: cut, with a note, and accepted ------------------------
forge github big BIG --token the-token --repo acme/fleet
fleet "$TMP/big" github "$BIG" acme/fleet
for i in $(seq 10 130); do
	printf 'name: big%s\naccount: "2000000000%s"\nregions: [us-east-1, eu-west-1]\n' "$i" "$i" >"$TMP/big/tenants/big$i.yaml"
done
commit "$TMP/big" "many tenants"
cd "$TMP/big"
run_fl 0 plan --driver "dir:$ACC" --format markdown
cp "$OUT_FILE" "$TMP/big.md"
[[ $(python3 -c 'import sys; print(len(open(sys.argv[1], encoding="utf-8").read()))' "$TMP/big.md") -gt 70000 ]] ||
	fail "the big plan is not over GitHub's limit"
run_fl 0 plan --driver "dir:$ACC" --pr 7
assert_not_contains "$ERR" "warning"
assert_eq "$(stat "$BIG" rejected)" 0
assert_json "$(comments "$BIG")" "the big plan, cut" '
(c,) = d
body = c["body"]
md = open("'"$TMP/big.md"'", encoding="utf-8").read()
assert len(body) <= 65536, len(body)
assert len(body) > 60000, len(body)
note = re.search(r"\n\n… (\d+) more tenants not shown: the plan is cut to GitHub\x27s 65,536-character limit; run `flotilla plan` for all of it\n$", body)
assert note, body[-300:]
kept = body[len("<!-- flotilla:plan prs -->\n"):note.start() + 1]
assert md.startswith(kept), "the kept part is not the start of the plan"
assert kept.endswith("</details>\n"), kept[-100:]  # cut between tenants
shown = kept.count("<details><summary><b>")
assert shown + int(note.group(1)) == md.count("<details><summary><b>"), (shown, note.group(1))
'
# The fake refuses what GitHub refuses: one character over.
python3 -c 'import json; print(json.dumps({"body": "é" * 65537}))' >"$TMP/long.json"
code=$(curl -s -o "$TMP/long.out" -w '%{http_code}' -X POST -H "Authorization: Bearer the-token" \
	-H "Content-Type: application/json" --data-binary @"$TMP/long.json" \
	"http://127.0.0.1:$BIG/repos/acme/fleet/issues/7/comments")
assert_eq "$code" 422
assert_contains "$TMP/long.out" "Body is too long (maximum is 65536 characters)"

# ---- --since: the forge of the base, whatever the head names ----------------------------
forge github evil EVIL --token the-token --repo acme/fleet
cd "$TMP/fleet-github"
BASE=$(git rev-parse HEAD)
git checkout -q -b pr
sed -i "s|http://127.0.0.1:$PORT_GITHUB|http://127.0.0.1:$EVIL|" fleet.yaml
sed -i 's/api:[0-9]*/api:9/' release/10-api.yaml
commit "$TMP/fleet-github" "pull request: a new image, and comments to another forge"
run_fl 0 plan --driver "dir:$ACC" --since "$BASE" --format markdown
cp "$OUT_FILE" "$TMP/want.md"
run_fl 0 plan --driver "dir:$ACC" --since "$BASE" --pr 7
assert_eq "$(stat "$EVIL" requests)" 0
check_comments "$PORT_GITHUB" "$TMP/want.md" "--since" >/dev/null
assert_contains "$TMP/want.md" "api:9"
# --offline (no account read, as for a pull request without credentials) keeps the
# same comment, and the comment says it is offline, as the printed plan does.
run_fl 0 plan --since "$BASE" --offline --format markdown
cp "$OUT_FILE" "$TMP/want-offline.md"
assert_contains "$TMP/want-offline.md" "offline: compared with what \`${BASE:0:7}\` renders"
run_fl 0 plan --since "$BASE" --offline --pr 7
assert_eq "$(stat "$EVIL" requests)" 0
check_comments "$PORT_GITHUB" "$TMP/want-offline.md" "--offline" >/dev/null
# A head whose fleet does not load: the comment says so, in place of the plan it held.
printf 'colour: blue\n' >>tenants/t3.yaml
commit "$TMP/fleet-github" "pull request: a typo"
run_fl 1 plan --driver "dir:$ACC" --since "$BASE" --pr 7
assert_eq "$(stat "$EVIL" requests)" 0
assert_json "$(comments "$PORT_GITHUB")" "the comment of a fleet that does not load" '
ours = [c for c in d if c["pr"] == 7 and c["user"] == "flotilla-bot"]
assert len(ours) == 1, ours
body = ours[0]["body"]
assert body.startswith("<!-- flotilla:plan prs -->\n### flotilla plan for `"), body
assert "**The fleet does not load: `flotilla validate` shows every problem.**" in body, body
assert "```text\ninvalid fleet: tenants/t3.yaml:5: unknown key \x27colour\x27 in tenant\n```\n" in body, body
'
echo "plan_pr: ok"
