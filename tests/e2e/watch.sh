#!/usr/bin/env bash
# flotilla watch keeps rolling out the branch: it advances past a gate once
# the commit is promoted, picks up a new commit, and stops cleanly on SIGTERM.
source "$(dirname "$0")/lib.sh"

run_fl 0 init "$TMP/f"
cd "$TMP/f"
git config user.name "flotilla tests"
git config user.email "tests@flotilla.invalid"

# wave_state SHA WAVE: the state of a wave's context in SHA's note, or "none".
wave_state() {
	git notes --ref=flotilla show "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("none"); sys.exit(0)
print(d["contexts"].get("flotilla/wave/" + sys.argv[1], {}).get("state", "none"))' "$2"
}

# wait_for SHA WAVE STATE: up to 20 s.
wait_for() {
	for _ in $(seq 1 100); do
		[ "$(wave_state "$1" "$2")" = "$3" ] && return 0
		sleep 0.2
	done
	fail "wave $2 of ${1:0:7} never reached $3 (is $(wave_state "$1" "$2")); log: $(cat "$TMP/watch.log")"
}

"$FLOTILLA" watch --repo "$TMP/f" --driver "dir:$TMP/acc" --interval 1s >"$TMP/watch.log" 2>&1 &
pid=$!

first=$(git rev-parse HEAD)
wait_for "$first" canary success
wait_for "$first" early pending
[ "$(wave_state "$first" fleet)" = none ] || fail "the fleet wave started before the promotion"

run_fl 0 promote "$first" --wave early
wait_for "$first" fleet success

sed -i 's/replicas: 2/replicas: 3/' release/api.yaml
commit . "more api replicas"
second=$(git rev-parse HEAD)
wait_for "$second" canary success
run_fl 0 promote "$second" --wave early
wait_for "$second" fleet success
grep -q '"replicas":3' "$TMP/acc/100000000008/eu-west-1.state" || fail "the new commit did not reach wonka's account"

kill -TERM "$pid"
for _ in $(seq 1 50); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
	kill -9 "$pid"
	fail "watch did not stop within 10 s of SIGTERM"
fi
wait "$pid" || fail "watch exited $? after SIGTERM, expected 0"
assert_contains "$TMP/watch.log" "watch: stopped"

# --branch follows that branch alone, by its full name: neither the checked
# out branch moving on nor a tag of the same name stands in for it.
git branch release "$second"
sed -i 's/replicas: 3/replicas: 4/' release/api.yaml
commit . "main moves on"
third=$(git rev-parse HEAD)
git tag release "$third"
git checkout -q release
sed -i 's/replicas: 3/replicas: 5/' release/api.yaml
commit . "a fix on the release branch"
fix=$(git rev-parse HEAD)
git checkout -q -

"$FLOTILLA" watch --repo "$TMP/f" --branch release --driver "dir:$TMP/acc" --interval 1s >"$TMP/watch.log" 2>&1 &
pid=$!
wait_for "$fix" canary success
assert_contains "$TMP/watch.log" "watching $TMP/f (release)"
[ "$(wave_state "$third" canary)" = none ] || fail "watch --branch release rolled out main's commit (or the tag)"
kill -TERM "$pid"
wait "$pid" || fail "watch --branch exited $? after SIGTERM, expected 0"
