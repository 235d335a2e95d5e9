#!/usr/bin/env bash
# Webhook notifications (docs/webhooks.md): a fleet whose fleet.yaml lists a
# Slack webhook (its URL in a variable) and a JSON webhook (a bearer token),
# each at a fake receiver on loopback (tests/servers/fake_webhook.py, which
# enforces Slack's incoming-webhook rules and the JSON event schema). Each
# wave transition is announced once: runs repeated at a gate announce
# nothing new; a failed verify announces the failure and the halt; a 500
# and a 429 are retried and the message delivered once; an unreachable
# webhook never fails the rollout and shows only its masked URL. The git
# note is the same as without the webhooks.
source "$(dirname "$0")/lib.sh"

SLACK_PATH=/services/T0FLEET/B0DEPLOY/s3cretHookKey42
start_fake_webhook SP --slack "$SLACK_PATH"
start_fake_webhook JP --token hook-token
export SLACK_WEBHOOK_URL=http://127.0.0.1:$SP$SLACK_PATH HOOK_TOKEN=hook-token
export FLOTILLA_NOW=1795000000

# messages PORT: what a fake webhook accepted, as JSON.
messages() {
	curl -sf "http://127.0.0.1:$1/_messages" || fail "GET /_messages on port $1 failed"
}

# stat PORT KEY: a counter of a fake webhook: requests, accepted, rejected, faults, rate_limited.
stat() {
	curl -sf "http://127.0.0.1:$1/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["'"$2"'"])'
}

# fleet DIR HOOKS: a fleet of one canary and two tenants in a wave behind a
# manual gate, verified by ci/check (which fails the tenants named in
# ci/bad); with HOOKS=yes, fleet.yaml lists the two webhooks.
fleet() {
	local dir=$1
	git_repo "$dir"
	mkdir -p "$dir/release" "$dir/tenants" "$dir/ci"
	cat >"$dir/fleet.yaml" <<EOF
version: 1
name: hooks
waves:
  - name: canary
    select: { canary: true }
    failure_tolerance: 0
    verify:
      - name: smoke
        run: ["ci/check", "{{tenant.name}}"]
  - name: fleet
    select: rest
    gate: manual
status:
  - { type: git-notes }
EOF
	if [[ $2 == yes ]]; then
		cat >>"$dir/fleet.yaml" <<EOF
  - { type: webhook, format: slack, url_env: SLACK_WEBHOOK_URL,
      target_url: "https://ci.example/runs?sha={{sha}}&wave={{wave}}" }
  - { type: webhook, format: json, url: "http://127.0.0.1:$JP/hooks/flotilla", token_env: HOOK_TOKEN }
EOF
	fi
	cat >"$dir/release/10-api.yaml" <<'EOF'
kind: service
name: api
spec: { image: "registry.example/api:1", owner: "{{tenant.name}}" }
EOF
	cat >"$dir/ci/check" <<'EOF'
#!/bin/sh
if grep -qx "$1" ci/bad && [ ! -e "$HOME/recovered" ]; then
	echo "smoke: $1 is down"
	exit 1
fi
EOF
	chmod +x "$dir/ci/check"
	: >"$dir/ci/bad"
	printf 'name: c1\naccount: "100000000001"\nregions: [us-east-1]\ncanary: true\n' >"$dir/tenants/c1.yaml"
	printf 'name: f1\naccount: "100000000002"\nregions: [us-east-1]\n' >"$dir/tenants/f1.yaml"
	printf 'name: f2\naccount: "100000000003"\nregions: [eu-west-1]\n' >"$dir/tenants/f2.yaml"
	commit "$dir" "fleet"
}

# events PORT SHA: "event wave state" of each JSON event on SHA, one a line.
events() {
	messages "$1" | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    b = m["body"]
    if b["commit"] == sys.argv[1]:
        print(b["event"], b["wave"], b["state"])
' "$2"
}

# texts PORT SHA: the text of each Slack message on SHA (by its short sha), one a line.
texts() {
	messages "$1" | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    t = m["body"]["text"]
    if "`" + sys.argv[1][:7] + "`" in t:
        print(t)
' "$2"
}

F=$TMP/fleet
ACC=$TMP/acc
fleet "$F" yes
cd "$F"
A=$(git rev-parse HEAD)

# ---- canary, then the gate: announced once, however many runs ----------------
run_fl 5 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "warning"
assert_eq "$(events "$JP" "$A")" "wave.started canary pending
wave.succeeded canary success
wave.waiting fleet pending"
assert_eq "$(texts "$SP" "$A")" "flotilla: wave *canary* started on \`${A:0:7}\` (pending: applying: 0/1 done, 0 failed (tolerance 0)) <https://ci.example/runs?sha=$A&amp;wave=canary|details>
flotilla: wave *canary* succeeded on \`${A:0:7}\` (success: applied 1/1) <https://ci.example/runs?sha=$A&amp;wave=canary|details>
flotilla: wave *fleet* is waiting on \`${A:0:7}\` (pending: awaiting promotion) <https://ci.example/runs?sha=$A&amp;wave=fleet|details>"
assert_json "$(messages "$JP")" "the JSON event, in full" '
b = d[0]["body"]
assert b == {"version": 1, "event": "wave.started", "commit": "'"$A"'", "wave": "canary", "state": "pending",
             "description": "applying: 0/1 done, 0 failed (tolerance 0)", "context": "flotilla/wave/canary", "target_url": None,
             "time": "2026-11-18T11:06:40Z"}, b
'
assert_eq "$(stat "$SP" rejected)" 0

run_fl 5 apply --driver "dir:$ACC"
run_fl 5 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "warning"
assert_eq "$(stat "$SP" requests)" 3
assert_eq "$(stat "$JP" requests)" 3

run_fl 0 promote HEAD --wave fleet -m "canary looks good"
run_fl 0 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "warning"
assert_eq "$(events "$JP" "$A" | tail -n +4)" "wave.started fleet pending
wave.succeeded fleet success"
assert_eq "$(texts "$SP" "$A" | tail -n +4 | cut -d'<' -f1)" "flotilla: wave *fleet* started on \`${A:0:7}\` (pending: applying: 0/2 done, 0 failed (tolerance 0)) 
flotilla: wave *fleet* succeeded on \`${A:0:7}\` (success: applied 2/2) "
NOTE_A=$(note "$F" "$A")

# ---- a failing verify on the canary: failed, and the fleet wave halted -----------
echo c1 >ci/bad
commit "$F" "the canary fails its smoke test"
B=$(git rev-parse HEAD)
run_fl 4 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "warning"
assert_eq "$(events "$JP" "$B")" "wave.started canary pending
wave.failed canary failure
wave.halted fleet error"
assert_eq "$(texts "$SP" "$B" | cut -d'<' -f1)" "flotilla: wave *canary* started on \`${B:0:7}\` (pending: applying: 0/1 done, 0 failed (tolerance 0)) 
flotilla: wave *canary* failed on \`${B:0:7}\` (failure: halted: 1 of 1 failed (tolerance 0)) 
flotilla: wave *fleet* halted on \`${B:0:7}\` (error: not started: wave canary failed) "
# A re-run (the CI schedule) tries the failed canary again and it fails the
# same way: nothing is announced again, neither the attempt nor the halt.
run_fl 4 apply --driver "dir:$ACC"
assert_eq "$(events "$JP" "$B" | tail -n +4)" ""
assert_eq "$(texts "$SP" "$B" | tail -n +4)" ""
# The canary recovers (what its check reads outside the commit): the same
# commit's next run ends otherwise, and that is news; the attempt is not.
touch "$HOME/recovered"
run_fl 5 apply --driver "dir:$ACC"
assert_eq "$(events "$JP" "$B" | tail -n +4)" "wave.succeeded canary success
wave.waiting fleet pending"
rm "$HOME/recovered"

# ---- a 500, then a 429: retried, each message delivered once ---------------------
: >ci/bad
commit "$F" "the canary is fixed"
C=$(git rev-parse HEAD)
curl -sf -X POST "http://127.0.0.1:$SP/_faults" -d '["500", "429"]' >/dev/null || fail "queueing faults"
curl -sf -X POST "http://127.0.0.1:$JP/_faults" -d '["500"]' >/dev/null || fail "queueing faults"
run_fl 5 apply --driver "dir:$ACC"
assert_not_contains "$ERR" "warning"
assert_eq "$(stat "$SP" faults)" 2
assert_eq "$(stat "$JP" faults)" 1
assert_eq "$(texts "$SP" "$C" | cut -d' ' -f3-4)" "*canary* started
*canary* succeeded
*fleet* is"
assert_eq "$(events "$JP" "$C")" "wave.started canary pending
wave.succeeded canary success
wave.waiting fleet pending"

# ---- an unreachable webhook: the rollout goes on; its URL shows masked -------------
DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SLACK_WEBHOOK_URL=http://127.0.0.1:$DEAD/services/T0DEAD/B0DEAD/deadHookSecret9
run_fl 0 promote HEAD --wave fleet -m "again"
run_fl 0 apply --driver "dir:$ACC"
assert_contains "$OUT" "rollout done"
assert_contains "$ERR" "warning: 2 statuses could not be written: webhook 'wave.started' (wave fleet): POST http://127.0.0.1:$DEAD/services/***: "
assert_contains "$ERR" "warning: webhook http://127.0.0.1:$DEAD/services/***: 2 notifications not delivered"
assert_not_contains "$ERR" "deadHookSecret9"
assert_not_contains "$ERR" "B0DEAD"
assert_eq "$(events "$JP" "$C" | tail -n +4)" "wave.started fleet pending
wave.succeeded fleet success"

# ---- the note is what it is without webhooks -------------------------------------
G=$TMP/plain
fleet "$G" no
cd "$G"
run_fl 5 apply --driver "dir:$TMP/acc-plain"
run_fl 0 promote HEAD --wave fleet -m "canary looks good"
run_fl 0 apply --driver "dir:$TMP/acc-plain"
NOTE_G=$(note "$G" HEAD)
[[ -n $NOTE_A ]] || fail "no note on $A"
# The commits differ (so do their fleet.yaml), and so do the verify's timings.
same() { # NOTE SHA
	printf '%s' "$1" | sed -e "s/$2/SHA/g" -e 's/"elapsed_ms": [0-9]*/"elapsed_ms": N/'
}
assert_eq "$(same "$NOTE_A" "$A")" "$(same "$NOTE_G" "$(git rev-parse HEAD)")"
echo "webhook_status: ok"
