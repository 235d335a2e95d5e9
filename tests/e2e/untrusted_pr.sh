#!/usr/bin/env bash
# A pull request's head is untrusted (SPEC 7, docs/security.md): plan --since
# BASE takes the driver, statuses and verify commands from BASE, runs and reads
# none of the head's, and shows where the head changed them. A trusted commit's
# exec driver and verify commands run without flotilla's secrets, except what
# pass_env hands on.
source "$(dirname "$0")/lib.sh"

SERVER=$FL_SOURCE/tests/servers/account_api.py
SRV_PID=
trap '[[ -z $SRV_PID ]] || kill "$SRV_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT

export FLOTILLA_GIT_TOKEN=git-secret FLOTILLA_SSH_PASSPHRASE=ssh-secret
export AWS_ACCESS_KEY_ID=aws-id AWS_SECRET_ACCESS_KEY=aws-secret AWS_SESSION_TOKEN=aws-session
export GITHUB_TOKEN=status-secret

run_fl 0 init "$TMP/f"
cd "$TMP/f"
git config user.name "flotilla tests"
git config user.email "tests@flotilla.invalid"
base=$(git rev-parse HEAD)
short=${base:0:7}

# ---- a head that switches the driver to a program of its own ----
mkdir -p tools
cat >tools/driver <<SH
#!/bin/sh
env >"$TMP/pwned-driver"
echo '{"unsupported": true}'
SH
chmod +x tools/driver
sed -i 's|^driver: .*|driver: { type: exec, command: ["tools/driver"] }|' fleet.yaml
commit . "switch the driver"

run_fl 0 plan --since "$base"
[[ ! -e $TMP/pwned-driver ]] || fail "plan --since ran the head's driver"
assert_contains "$OUT" "fleet.yaml: driver changed (taken from BASE $short; the head's is not run)"
assert_not_contains "$OUT" "verify of wave"
# The base's dir driver: no account under ./accounts yet, so every tenant bootstraps.
assert_contains "$OUT" "tenant acme-test (wave canary, account 100000000001) [new account: bootstrap]"
assert_contains "$OUT" "Plan: 8 tenants change"
run_fl 0 plan --since "$base" --format markdown
assert_contains "$OUT" "- fleet.yaml: driver changed (taken from BASE \`$short\`; the head's is not run)"
run_fl 0 plan --since "$base" --format json
assert_json "$OUT_FILE" "plan --since json: the driver change" '
assert d["since"] == {"base": "'"$base"'", "driver_changed": True, "status_changed": False, "verify_changed": []}, d["since"]
assert d["summary"]["tenants_changed"] == 8, d["summary"]'
run_fl 3 plan --since "$base" --detailed-exitcode
[[ ! -e $TMP/pwned-driver ]] || fail "plan --since ran the head's driver"
# Without --since the commit is trusted: its own driver runs.
run_fl 0 plan --tenant acme-test
assert_file_exists "$TMP/pwned-driver"
rm -f "$TMP/pwned-driver"
# --driver is the operator's, and wins.
cat >"$TMP/operator" <<SH
#!/bin/sh
touch "$TMP/operator-ran"
echo '{"unsupported": true}'
SH
chmod +x "$TMP/operator"
run_fl 0 plan --since "$base" --driver "exec:$TMP/operator"
assert_file_exists "$TMP/operator-ran"
[[ ! -e $TMP/pwned-driver ]] || fail "plan --since --driver ran the head's driver"

# ---- a head that changes a wave's verify and the statuses ----
git checkout -q "$base"
sed -i "s|run: \[\"ci/smoke-test\".*|run: [\"sh\", \"-c\", \"env > $TMP/pwned-verify\"]|" fleet.yaml
cat >>fleet.yaml <<'YAML'
  - { type: github, repo: evil/fork, token_env: GITHUB_TOKEN, api_url: "http://127.0.0.1:9/" }
YAML
commit . "change the smoke test and add a status"
run_fl 0 plan --since "$base" --format json
[[ ! -e $TMP/pwned-verify ]] || fail "plan --since ran the head's verify"
assert_json "$OUT_FILE" "plan --since json: verify and status changes" '
assert d["since"]["driver_changed"] is False, d["since"]
assert d["since"]["status_changed"] is True, d["since"]
assert d["since"]["verify_changed"] == ["canary"], d["since"]'
run_fl 0 plan --since "$base"
assert_contains "$OUT" "fleet.yaml: verify of wave canary changed (taken from BASE $short; the head's is not run)"
assert_contains "$OUT" "fleet.yaml: status changed (taken from BASE $short; the head's is not used)"

# ---- a head that points the http driver's token_file at a file of its choice ----
"${PYTHON:-python3}" "$SERVER" --tokens <(echo '{"*": "good-token"}') </dev/null >"$TMP/api.out" 2>"$TMP/api.err" &
SRV_PID=$!
for _ in $(seq 100); do
	[[ -s $TMP/api.out ]] && break
	sleep 0.05
done
PORT=$(sed -n 's/^PORT //p' "$TMP/api.out")
[[ -n $PORT ]] || fail "the account API did not start: $(cat "$TMP/api.err")"
echo good-token >"$TMP/good.token"
git checkout -q "$base"
sed -i "s|^driver: .*|driver: { type: http, endpoint: \"http://127.0.0.1:$PORT/v1/accounts/{{tenant.account}}\", token_file: \"$TMP/good.token\" }|" fleet.yaml
commit . "the http driver"
http_base=$(git rev-parse HEAD)
# A FIFO nobody writes: opening it to read blocks, so any read hangs the plan.
mkfifo "$TMP/steal"
sed -i "s|token_file: \"$TMP/good.token\"|token_file: \"$TMP/steal\"|" fleet.yaml
commit . "read another token"
got=0
timeout 60 "$FLOTILLA" plan --since "$http_base" >"$OUT_FILE" 2>"$ERR_FILE" || got=$?
[[ $got == 0 ]] || fail "plan --since with the head's token_file exited $got (124: it read the FIFO): $(cat "$ERR_FILE")"
assert_contains "$OUT_FILE" "fleet.yaml: driver changed (taken from BASE ${http_base:0:7}; the head's is not run)"
assert_contains "$OUT_FILE" "Plan: 8 tenants change"
kill "$SRV_PID" 2>/dev/null || true
SRV_PID=

# ---- a trusted commit: its driver and verify run, without the secrets ----
git checkout -q "$base"
mkdir -p tools
cat >tools/driver <<SH
#!/bin/sh
env >>"$TMP/driver-env"
exec "$FL_FIXTURES/drivers/git-accounts" "\$@"
SH
chmod +x tools/driver
sed -i "s|^driver: .*|driver: { type: exec, command: [\"$TMP/f/tools/driver\"], pass_env: [AWS_ACCESS_KEY_ID] }|" fleet.yaml
sed -i "s|run: \[\"ci/smoke-test\".*|run: [\"sh\", \"-c\", \"env >> $TMP/verify-env\"]\n        pass_env: [AWS_SESSION_TOKEN]|" fleet.yaml
sed -i 's|^  - { type: git-notes }|  - { type: git-notes }\n  - { type: github, repo: o/n, token_env: GITHUB_TOKEN, api_url: "http://127.0.0.1:9/" }|' fleet.yaml
commit . "a driver and a verify that show their environment"
run_fl 0 validate
export FLOTILLA_GIT_ACCOUNTS=$TMP/acc
run_fl 0 apply --through canary
assert_file_exists "$TMP/driver-env"
assert_file_exists "$TMP/verify-env"
for f in "$TMP/driver-env" "$TMP/verify-env"; do
	for secret in git-secret ssh-secret aws-secret status-secret; do
		assert_not_contains "$f" "$secret"
	done
done
assert_contains "$TMP/driver-env" "AWS_ACCESS_KEY_ID=aws-id"
assert_not_contains "$TMP/driver-env" "AWS_SESSION_TOKEN="
assert_contains "$TMP/verify-env" "AWS_SESSION_TOKEN=aws-session"
assert_not_contains "$TMP/verify-env" "AWS_ACCESS_KEY_ID="
assert_contains "$TMP/verify-env" "FLOTILLA_TENANT="
echo "untrusted_pr: ok"
