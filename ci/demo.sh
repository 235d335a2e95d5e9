#!/usr/bin/env bash
# The demo: installs what is missing, builds flotilla, scaffolds an example
# fleet repository and plans it against a directory of accounts.
#   FLOTILLA_DEMO_DIR  where to create the fleet (default: fleet/ in a fresh
#                      temporary directory)
# The accounts live in a sibling directory, "$DEMO.accounts".
#
# To add a step, call `step` with the command line; it echoes "==> ..." and
# runs it inside the demo fleet.
set -euo pipefail

# Resolve FLOTILLA_DEMO_DIR against the caller's directory before moving.
if [[ -n ${FLOTILLA_DEMO_DIR:-} ]]; then
	DEMO=$(realpath -m -- "$FLOTILLA_DEMO_DIR")
else
	# A fresh parent, so that both the fleet and its sibling accounts
	# directory are new; flotilla init creates the fleet directory.
	DEMO=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-demo.XXXXXX")/fleet
fi
DEMO_ACCOUNTS="$DEMO.accounts"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
FL="$PWD/build/flotilla"

ci/setup.sh
ci/build.sh plain

mkdir -p "$DEMO_ACCOUNTS"

# step ARGS...: echo the flotilla command line, then run it in the demo fleet.
step() {
	echo
	echo "==> flotilla $*"
	(cd "$DEMO" && "$FL" "$@")
}

echo
echo "==> flotilla init $DEMO"
"$FL" init "$DEMO"

step validate
step plan --driver "dir:$DEMO_ACCOUNTS"
# Next steps, once they are built:
#   step apply --driver "dir:$DEMO_ACCOUNTS"
#   step status
#   step promote HEAD --wave <wave>

echo
echo "==> demo done: fleet in $DEMO, accounts in $DEMO_ACCOUNTS"
