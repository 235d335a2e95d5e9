#!/usr/bin/env bash
# The version, the generated help (also of `help` itself and of a
# subcommand) and the usage error for an unknown command.
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

# `help` explains itself, any command, and a command's subcommand.
run_fl 0 help --help
assert_contains "$OUT" "usage: flotilla help [COMMAND] [SUBCOMMAND]"
run_fl 0 help init
assert_contains "$OUT" "usage: flotilla init DIR"
run_fl 0 help account create
assert_contains "$OUT" "usage: flotilla account create"
run_fl 0 account create --help
expected=$OUT
run_fl 0 help account create
assert_eq "$OUT" "$expected"
run_fl 2 help no-such-command
assert_contains "$ERR" "unknown command 'no-such-command'"
