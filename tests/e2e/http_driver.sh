#!/usr/bin/env bash
# The http driver end to end (SPEC 8, docs/drivers.md "http"): the example
# fleet rolled out through every wave into tests/servers/account_api.py over
# TLS, with a CA of the test's own and a token per tenant; the account API
# then holds every tenant's resources and marker, and the plan is empty. TLS
# is verified (no CA: refused), and a wrong token fails its tenant.
source "$(dirname "$0")/lib.sh"

SERVER=$FL_SOURCE/tests/servers/account_api.py
SRV_PID=
trap '[[ -z $SRV_PID ]] || kill "$SRV_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT

# A CA and a certificate for 127.0.0.1 signed by it.
(
	cd "$TMP"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj /CN=flotilla-e2e-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-CA ca.pem -CAkey ca.key -keyout server.key -out server.pem -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=CA:FALSE \
		-addext extendedKeyUsage=serverAuth
) >"$TMP/openssl.log" 2>&1 || fail "openssl: $(cat "$TMP/openssl.log")"

run_fl 0 init "$TMP/f"
cd "$TMP/f"

# A token per tenant: files for flotilla, the map for the server.
mkdir -p "$TMP/tokens"
tokens="{"
for t in tenants/*.yaml; do
	name=$(sed -n 's/^name: *//p' "$t")
	account=$(sed -n 's/^account: *"\(.*\)"/\1/p' "$t")
	echo "token-of-$name" >"$TMP/tokens/$name.token"
	tokens="$tokens\"$account\": \"token-of-$name\", "
done
echo "${tokens%, }}" >"$TMP/tokens.json"

python3 "$SERVER" --tls "$TMP/server.pem" "$TMP/server.key" --tokens "$TMP/tokens.json" \
	</dev/null >"$TMP/server.out" 2>"$TMP/server.err" &
SRV_PID=$!
for _ in $(seq 100); do
	[[ -s $TMP/server.out ]] && break
	sleep 0.05
done
PORT=$(sed -n 's/^PORT //p' "$TMP/server.out")
[[ -n $PORT ]] || fail "the account API did not start: $(cat "$TMP/server.err")"
BASE=https://127.0.0.1:$PORT
state() { curl -sS --cacert "$TMP/ca.pem" "$BASE/_state"; }

# The fleet's driver: the account API, its CA and the token files.
sed -i "s|^driver: .*|driver: { type: http, endpoint: \"$BASE/v1/accounts/{{tenant.account}}\", ca_file: \"$TMP/ca.pem\", token_file: \"$TMP/tokens/{{tenant.name}}.token\" }|" fleet.yaml
git config user.name "flotilla tests"
git config user.email "tests@flotilla.invalid"
commit . "accounts behind the http account API"
REV=$(git rev-parse HEAD)
run_fl 0 validate

run_fl 0 plan
assert_contains "$OUT" "tenant acme-test (wave canary, account 100000000001) [new account: bootstrap]"
assert_contains "$OUT" "Plan: 8 tenants change: +43 ~0 -0"
assert_json "$(state)" "plan writes nothing" 'assert d["accounts"] == {}, d["accounts"]'

# The canaries go first; the early ring waits behind its manual gate.
run_fl 5 apply
assert_matches "$OUT" '^  early +pending +awaiting promotion$'
assert_json "$(state)" "after the canary wave" '
assert sorted(d["accounts"]) == ["100000000001", "100000000002"], sorted(d["accounts"])'

run_fl 0 promote HEAD --wave early -m "canaries look fine"
run_fl 0 apply
assert_contains "$OUT" "rollout done"

# Every account: its identity, every region's resources, the marker at REV.
assert_json "$(state)" "the account API after the rollout" '
accts = d["accounts"]
assert len(accts) == 8, sorted(accts)
total = 0
for acct, a in accts.items():
    assert a["identity"]["account"] == acct, a["identity"]
    assert a["regions"], acct
    for region, r in a["regions"].items():
        m = r["marker"]
        assert m and m["revision"] == "'"$REV"'", (acct, region, m)
        assert m["resources"] == len(r["resources"]) > 0, (acct, region, m)
        for key, res in r["resources"].items():
            assert res["managed"] and re.match("^[0-9a-f]{32}$", res["etag"]), (acct, key, res)
        total += len(r["resources"])
assert total == 43, total
initech = accts["100000000003"]["regions"]
assert sorted(initech) == ["eu-west-1", "us-east-1"], sorted(initech)
api = initech["eu-west-1"]["resources"]["service/api"]["spec"]
assert api["env"] == {"TENANT": "initech", "TITLE": "Initech", "REGION": "eu-west-1"}, api
assert api["seats"] == 250, api
'

# Converged: nothing to plan, and apply writes nothing.
run_fl 0 plan --detailed-exitcode
assert_contains "$OUT" "no changes"
puts=$(state | python3 -c 'import json, sys; print(json.load(sys.stdin)["by_method"].get("PUT", 0))')
run_fl 0 apply
assert_eq "$(state | python3 -c 'import json, sys; print(json.load(sys.stdin)["by_method"].get("PUT", 0))')" "$puts"

# TLS is verified: without the CA, the server's certificate is refused.
run_fl 1 plan --tenant wonka --driver "http:$BASE/v1/accounts/{{tenant.account}}"
assert_contains "$OUT$ERR" "http driver: identity of tenant 'wonka': GET $BASE/v1/accounts/100000000008/identity"

# A wrong token fails its tenant, and says so without showing the token.
echo "not-the-token" >"$TMP/tokens/wonka.token"
run_fl 1 plan --tenant wonka
assert_contains "$OUT$ERR" "answered HTTP 401 (the account API refused the token)"
assert_not_contains "$OUT$ERR" "not-the-token"
