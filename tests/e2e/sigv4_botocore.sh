#!/usr/bin/env bash
# core/sigv4.c against the real signer: sigv4_botocore.py signs the aws
# driver's kinds of request (Cloud Control and Organizations JSON POSTs, STS
# form POSTs, with and without a session token, odd paths, query strings and
# times) with the sigv4_sign helper and with botocore's SigV4Auth at the same
# frozen time, and compares the headers byte for byte. botocore is required
# (python3-botocore, ci/setup.sh): without it this test fails, it never skips.
source "$(dirname "$0")/lib.sh"

: "${FL_SIGV4_SIGN:?set FL_SIGV4_SIGN to the sigv4_sign helper (tests/CMakeLists.txt does)}"
[[ -x $FL_SIGV4_SIGN ]] || fail "the sigv4_sign helper is not built: $FL_SIGV4_SIGN"

# Debian's python3-botocore is what ci/setup.sh installs, for /usr/bin/python3;
# a python3 of pyenv or a venv may have its own.
PY=
for py in /usr/bin/python3 python3; do
	if command -v "$py" >/dev/null && "$py" -c 'import botocore.auth' 2>/dev/null; then
		PY=$py
		break
	fi
done
[[ -n $PY ]] || fail "no python3 here can import botocore (tried /usr/bin/python3 and python3): install python3-botocore (ci/setup.sh)"

"$PY" "$(dirname "$0")/sigv4_botocore.py" "$FL_SIGV4_SIGN" >"$TMP/report" 2>&1 ||
	fail "core/sigv4.c and botocore disagree: $(cat "$TMP/report")"
cat "$TMP/report"
