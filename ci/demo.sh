#!/usr/bin/env bash
# The demo: installs what is missing, builds flotilla, scaffolds an example
# fleet repository, plans it against a directory of accounts, rolls it out
# (canaries first, a promotion, then the fleet) and shows the statuses.
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
# The canary wave first; the early wave waits behind a manual gate.
step apply --driver "dir:$DEMO_ACCOUNTS" --through canary
step status
step promote HEAD --wave early -m "canaries look good"
step apply --driver "dir:$DEMO_ACCOUNTS"
step status
echo
echo "==> git notes --ref=flotilla show HEAD   (the statuses, read with plain git)"
git -C "$DEMO" notes --ref=flotilla show HEAD | sed -n 1,40p
echo
echo "==> git notes --ref=flotilla-tenants show HEAD   (each tenant's result)"
git -C "$DEMO" notes --ref=flotilla-tenants show HEAD | sed -n 1,30p
echo "    ..."
echo
echo "==> git tag -l 'flotilla/*'"
git -C "$DEMO" tag -l 'flotilla/*'
echo
echo "==> demo done: fleet in $DEMO, accounts in $DEMO_ACCOUNTS"
