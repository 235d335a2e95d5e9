#!/usr/bin/env bash
# on_failure: rollback through the http driver (tests/servers/account_api.py):
# a canary whose verify fails at B gets A's resources back in the account
# API, markers at A, checked with A's verify; the rollout halts; a plain
# rerun sends the account nothing and apply --tenant tries B again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rollback_scenario.bash"

SERVER=$FL_SOURCE/tests/servers/account_api.py
python3 "$SERVER" </dev/null >"$TMP/api.out" 2>"$TMP/api.err" &
SRV_PID=$!
trap 'kill "$SRV_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
	[[ -s $TMP/api.out ]] && break
	sleep 0.05
done
PORT=$(sed -n 's/^PORT //p' "$TMP/api.out")
[[ -n $PORT ]] || fail "the account API did not start: $(cat "$TMP/api.err")"
BASE=http://127.0.0.1:$PORT
DRIVER="http:$BASE/v1/accounts/{{tenant.account}}"

# account_field ACCOUNT REGION PYTHON: the expression's value, r bound to the region's state.
account_field() {
	curl -sS "$BASE/_state" | python3 -c '
import json, sys
r = json.load(sys.stdin)["accounts"][sys.argv[1]]["regions"][sys.argv[2]]
print(eval(sys.argv[3]))' "$1" "$2" "$3"
}
image() { account_field "$1" "$2" 'r["resources"]["service/api"]["spec"]["image"]'; }
marker_rev() { account_field "$1" "$2" 'r["marker"]["revision"]'; }
account_sum() {
	curl -sS "$BASE/_state" | python3 -c '
import json, sys
print(json.dumps(json.load(sys.stdin)["accounts"].get(sys.argv[1]), sort_keys=True))' "$1"
}
# Writes the account API has taken: a plain rerun adds none for canary-b.
writes() {
	curl -sS "$BASE/_state" | python3 -c '
import json, sys
m = json.load(sys.stdin)["by_method"]
print(m.get("PUT", 0) + m.get("DELETE", 0) + m.get("POST", 0))'
}

rb_core "$TMP/f"
before=$(writes)
run_fl 4 apply --driver "$DRIVER"
assert_eq "$(writes)" "$before"
rb_retry "$TMP/f"
