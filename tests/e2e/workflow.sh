#!/usr/bin/env bash
# The walkthrough of docs/workflow.md, run: one change from pull request to
# the whole fleet, with the commands the CI templates run, against a fake
# GitHub (statuses and the pull request's comments) and a fake Slack
# webhook. A pull request's plan comment is edited in place; the merge's
# canary fails its smoke test and is rolled back; a scheduled rerun posts
# nothing; the fix waits at the gate; the promotion rolls it to the fleet.
# With WALKTHROUGH_OUT=DIR the outputs the page quotes are saved there.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

: "${FL_SOURCE:?set FL_SOURCE to the source tree}"
start_fake_forge GH --kind github --token gh-token --repo acme/fleet
SLACK_PATH=/services/T0ACME/B0DEPLOY/hookSecret
start_fake_webhook SL --slack "$SLACK_PATH"
export SLACK_DEPLOY_WEBHOOK=http://127.0.0.1:$SL$SLACK_PATH
export GITHUB_TOKEN=gh-token
OUTDIR=${WALKTHROUGH_OUT:-$TMP/saved}
mkdir -p "$OUTDIR"
save() { cp "$2" "$OUTDIR/$1"; }
ACC=$TMP/accounts

# statuses SHA: "context state description" of every status posted on SHA, in order.
statuses() {
	curl -sf "http://127.0.0.1:$GH/_statuses" | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["sha"] == sys.argv[1]:
        print(s["context"], s["state"], s["description"])
' "$1"
}
# slack: the text of every Slack message, one a line (links cut).
slack() {
	curl -sf "http://127.0.0.1:$SL/_messages" | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    print(m["body"]["text"].split(" <")[0])
'
}
posts() { curl -sf "http://127.0.0.1:$GH/_stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["posts"] + d["edits"])'; }

# ---- the fleet repository: main rolled out at v1 ------------------------------------
git init -q --bare -b main "$TMP/origin.git"
F=$TMP/fleet
git_repo "$F"
mkdir -p "$F/release" "$F/tenants" "$F/ci"
cat >"$F/fleet.yaml" <<EOF
version: 1
name: acme
waves:
  - name: canary
    select: { canary: true }
    max_parallel: 1
    failure_tolerance: 0
    on_failure: rollback
    verify:
      - name: smoke
        run: ["ci/smoke-test", "{{tenant.name}}"]
  - name: early
    select: { labels: { ring: early } }
    gate: manual
  - name: fleet
    select: rest
    max_parallel: 50%
driver: { type: dir, root: "$ACC" }
status:
  - { type: git-notes }
  - { type: github, repo: acme/fleet, token_env: GITHUB_TOKEN, api_url: "http://127.0.0.1:$GH" }
  - { type: webhook, format: slack, url_env: SLACK_DEPLOY_WEBHOOK }
EOF
cat >"$F/release/api.yaml" <<'EOF'
kind: service
name: api
spec: { image: "registry.acme.dev/api:1.0", replicas: 2 }
EOF
cat >"$F/ci/smoke-test" <<'EOF'
#!/bin/sh
# The smoke test of this commit: 1.1 crashes at start-up.
if grep -q 'api:1.1"' release/api.yaml; then
	echo "smoke: $1: GET /healthz: connection refused"
	exit 1
fi
echo "smoke: $1: ok"
EOF
chmod +x "$F/ci/smoke-test"
printf 'name: acme-test\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' >"$F/tenants/acme-test.yaml"
printf 'name: globex\naccount: "100000000002"\nregions: [eu-west-1]\nlabels: { ring: early }\n' >"$F/tenants/globex.yaml"
printf 'name: initech\naccount: "100000000003"\nregions: [us-east-1]\n' >"$F/tenants/initech.yaml"
printf 'name: umbrella\naccount: "100000000004"\nregions: [us-west-2]\n' >"$F/tenants/umbrella.yaml"
commit "$F" "api 1.0"
V1=$(git -C "$F" rev-parse HEAD)
git -C "$F" remote add origin "$TMP/origin.git"
git -C "$F" push -q origin main
cd "$F"
run_fl 5 apply --rev origin/main
run_fl 0 promote "$V1" --wave early -m "v1"
run_fl 0 apply --rev origin/main
assert_contains "$OUT" "rollout done"
curl -sf -X POST "http://127.0.0.1:$GH/_reset" >/dev/null
curl -sf -X POST "http://127.0.0.1:$SL/_reset" >/dev/null

# ---- 1. the pull request: its plan as one comment, edited on every push ------------
git checkout -q -b api-1.1
sed -i 's/api:1.0/api:1.1/' release/api.yaml
cat >release/queue.yaml <<'EOF'
kind: queue
name: jobs
spec: { visibility_timeout: 60, dead_letter: "{{tenant.name}}-dlq" }
EOF
commit "$F" "api 1.1, and a jobs queue"
base=$(git merge-base origin/main HEAD)
run_fl 0 plan --rev HEAD --since "$base" --format markdown --pr 12
save plan-comment.md "$OUT_FILE"
save plan-comment.err "$ERR_FILE"
assert_contains "$OUT" "4 tenants change: +4 ~4 -0"
assert_contains "$OUT" "<details><summary>"
assert_contains "$OUT" '"dead_letter": "acme-test-dlq"'
sed -i 's/replicas: 2/replicas: 3/' release/api.yaml
commit "$F" "three replicas"
run_fl 0 plan --rev HEAD --since "$base" --format markdown --pr 12
curl -sf "http://127.0.0.1:$GH/_comments" >"$TMP/comments.json"
assert_json "$TMP/comments.json" "one comment, edited for the second push" '
assert len(d) == 1 and d[0]["pr"] == 12 and d[0]["edits"] == 1, d
assert "replicas" in d[0]["body"] and d[0]["body"].startswith("<!-- flotilla:plan acme -->"), d[0]["body"][:200]'
HEAD_PR=$(git rev-parse HEAD)
assert_eq "$(statuses "$HEAD_PR")" "flotilla/plan success 4 tenants change: +4 ~4 -0"

# ---- 2. the merge: the canary fails its smoke test and is rolled back ----------------
git checkout -q main
git merge -q --no-ff -m "Merge pull request #12: api 1.1" api-1.1
git push -q origin main
V2=$(git rev-parse HEAD)
run_fl 4 apply --rev origin/main
save apply-v2.out "$OUT_FILE"
save apply-v2.err "$ERR_FILE"
assert_contains "$ERR" "rolled back to ${V1:0:7}"
assert_contains "$ACC/100000000001/us-east-1.state" 'api:1.0"'
run_fl 0 status "$V2"
save status-v2.out "$OUT_FILE"
assert_contains "$OUT" "rolled back to ${V1:0:7}"
statuses "$V2" >"$TMP/st-v2"
save statuses-v2.txt "$TMP/st-v2"
assert_contains "$TMP/st-v2" "flotilla/wave/canary failure"
assert_contains "$TMP/st-v2" "rolled back to ${V1:0:7}"
assert_contains "$TMP/st-v2" "flotilla/wave/early error not started: wave canary failed"
slack >"$TMP/slack-v2"
save slack-v2.txt "$TMP/slack-v2"
assert_contains "$TMP/slack-v2" "rolled back"
assert_contains "$TMP/slack-v2" "wave *canary* failed"
# The schedule runs the job again ten minutes later: nothing new anywhere.
before=$(posts) said=$(slack | wc -l)
run_fl 4 apply --rev origin/main
assert_eq "$(posts)" "$before" "statuses posted by a rerun of a halted commit"
assert_eq "$(slack | wc -l)" "$said" "Slack messages sent by a rerun of a halted commit"

# ---- 3. the fix: canaries pass, the rollout waits at the gate ------------------------
git checkout -q -b api-1.2
sed -i 's/api:1.1/api:1.2/' release/api.yaml
commit "$F" "api 1.2: the start-up crash fixed"
git checkout -q main
git merge -q --no-ff -m "Merge pull request #13: api 1.2" api-1.2
git push -q origin main
V3=$(git rev-parse HEAD)
run_fl 5 apply --rev origin/main
run_fl 0 status "$V3"
save status-v3.out "$OUT_FILE"
assert_contains "$OUT" "waits: promotion (flotilla promote ${V3:0:12}"
assert_contains "$OUT" "--wave early)"
before=$(posts) said=$(slack | wc -l)
run_fl 5 apply --rev origin/main
assert_eq "$(posts)" "$before" "statuses posted by a rerun at the gate"
assert_eq "$(slack | wc -l)" "$said" "Slack messages sent by a rerun at the gate"

# ---- 4. the promotion: the release manager's tag resumes the rollout -----------------
run_fl 0 promote "$V3" --wave early -m "canaries healthy for an hour"
git push -q origin "refs/tags/flotilla/promote/early/$V3"
run_fl 0 apply --rev origin/main
save apply-v3.out "$OUT_FILE"
statuses "$V3" >"$TMP/st-v3"
save statuses-v3.txt "$TMP/st-v3"
slack >"$TMP/slack-all"
save slack-all.txt "$TMP/slack-all"
assert_contains "$TMP/st-v3" "flotilla/wave/fleet success applied 2/2"
for acc in 100000000001 100000000002 100000000003; do
	assert_contains "$ACC/$acc/$(ls "$ACC/$acc" | grep -m1 '\.state$')" 'api:1.2"'
done
git -C "$TMP/origin.git" tag -l 'flotilla/promote/*' >"$TMP/tags"
assert_contains "$TMP/tags" "flotilla/promote/early/$V3"
echo "workflow: ok"
