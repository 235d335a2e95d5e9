#!/usr/bin/env bash
# The http driver end to end (SPEC 8, docs/drivers.md "http"): the example
# fleet rolled out through every wave into tests/servers/account_api.py over
# TLS, with a CA of the test's own and a token per tenant; the account API
# then holds every tenant's resources and marker, and the plan is empty. TLS
# is verified (no CA: refused), and a wrong token fails its tenant. Every
# request came over HTTP/1.1, as the server offered only that; then the same
# rollout into a second account API started with --http2 goes over HTTP/2
# alone (ALPN "h2"), tenants in parallel, and survives a reset stream.
source "$(dirname "$0")/lib.sh"

SERVER=$FL_SOURCE/tests/servers/account_api.py
SRV_PIDS=()
trap '((${#SRV_PIDS[@]} == 0)) || kill "${SRV_PIDS[@]}" 2>/dev/null || true; rm -rf "$TMP"' EXIT

# --http2 needs the h2 package (python3-h2, ci/setup.sh), which Debian's
# /usr/bin/python3 sees and a python3 of pyenv or a venv may not.
H2_PYTHON=
for py in python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null && "$py" -c 'import h2' 2>/dev/null; then
		H2_PYTHON=$py
		break
	fi
done
[[ -n $H2_PYTHON ]] || fail "no python3 here can import h2 (tried python3 and /usr/bin/python3): install python3-h2 (ci/setup.sh) to test HTTP/2"

# start_api NAME PYTHON ARGS...: starts the fake account API with ARGS, its
# output in $TMP/NAME.out and .err; sets PORT.
start_api() {
	local name=$1 py=$2
	shift 2
	"$py" "$SERVER" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	SRV_PIDS+=("$!")
	for _ in $(seq 100); do
		[[ -s $TMP/$name.out ]] && break
		sleep 0.05
	done
	PORT=$(sed -n 's/^PORT //p' "$TMP/$name.out")
	[[ -n $PORT ]] || fail "the account API ($name) did not start: $(cat "$TMP/$name.err")"
}

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

start_api server python3 --tls "$TMP/server.pem" "$TMP/server.key" --tokens "$TMP/tokens.json"
BASE=https://127.0.0.1:$PORT
state() { curl -sS --cacert "$TMP/ca.pem" "${1:-$BASE}/_state"; }

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

# The server offered only http/1.1 in ALPN: every request came over HTTP/1.1.
assert_json "$(state)" "the protocols of the HTTP/1.1-only account API" '
n = d["requests"]
assert n > 0 and d["by_protocol"] == {"HTTP/1.1": n}, (n, d["by_protocol"])'

# HTTP/2 where the server offers it: the same fleet against an account API
# that offers h2 first (--http2), with 5 ms of latency so that the tenants
# a wave runs at once are seen in flight at once.
echo "token-of-wonka" >"$TMP/tokens/wonka.token"
start_api server-h2 "$H2_PYTHON" --http2 --tls "$TMP/server.pem" "$TMP/server.key" \
	--tokens "$TMP/tokens.json" --latency-ms 5
BASE2=https://127.0.0.1:$PORT
sed -i "s|$BASE/|$BASE2/|" fleet.yaml
commit . "the account API over HTTP/2"
REV2=$(git rev-parse HEAD)

run_fl 0 plan
assert_contains "$OUT" "Plan: 8 tenants change: +43 ~0 -0"
run_fl 5 apply
run_fl 0 promote HEAD --wave early -m "canaries look fine over HTTP/2"
run_fl 0 apply
assert_contains "$OUT" "rollout done"
run_fl 0 plan --detailed-exitcode
assert_contains "$OUT" "no changes"

# A reset stream (RST_STREAM on one request, the connection kept) is retried.
curl -sS --cacert "$TMP/ca.pem" -H "Content-Type: application/json" \
	-d '{"status": "reset", "count": 1, "method": "GET", "path": "/regions/"}' "$BASE2/_faults" >/dev/null
run_fl 0 plan --refresh --tenant wonka --detailed-exitcode
assert_contains "$OUT" "no changes"

assert_json "$(state "$BASE2")" "the account API over HTTP/2 after the rollout" '
accts = d["accounts"]
assert len(accts) == 8, sorted(accts)
total = 0
for acct, a in accts.items():
    for region, r in a["regions"].items():
        assert r["marker"] and r["marker"]["revision"] == "'"$REV2"'", (acct, region, r["marker"])
        total += len(r["resources"])
assert total == 43, total
assert d["faults"][0]["count"] == 0, d["faults"]
n = d["requests"]
assert n > 0 and d["by_protocol"] == {"HTTP/2": n}, ("every request over HTTP/2", n, d["by_protocol"])
assert d["peak_in_flight"] >= 2, ("tenants in parallel over HTTP/2", d["peak_in_flight"])
assert d["connections"]["HTTP/2"] * 2 < n, ("connections reused over HTTP/2", d["connections"], n)'

# A client that does not offer h2 still gets HTTP/1.1 from it.
curl -sS --http1.1 --cacert "$TMP/ca.pem" -H "Authorization: Bearer token-of-wonka" \
	"$BASE2/v1/accounts/100000000008/identity" >/dev/null
assert_json "$(state "$BASE2")" "HTTP/1.1 from the --http2 account API" '
assert d["by_protocol"].get("HTTP/1.1") == 1, d["by_protocol"]'
