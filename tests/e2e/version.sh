#!/usr/bin/env bash
# The version, the generated help and the usage error for an unknown command.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

run_fl 0 version
assert_matches "$OUT" '^flotilla [0-9]+\.[0-9]+\.[0-9]+'

run_fl 0 --help
assert_contains "$OUT" "validate"
assert_contains "$OUT" "plan"

# SPEC 7: exit 2 is a usage error.
run_fl 2 no-such-command
[[ -n $ERR ]] || fail "no-such-command printed nothing on stderr"
