#!/usr/bin/env bash
# apply's progress (SPEC 7): on a terminal, one line per wave with a bar,
# redrawn in place; not on a terminal, plain lines; --format json, one JSON
# object per line and nothing else. The terminal is a real pseudo-terminal
# made by script(1) (util-linux, on every Debian system).
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || fail "script(1) is missing: install bsdutils (util-linux)"

run_fl 0 init "$TMP/f"
cd "$TMP/f"

# The demo fleet: canary (2 tenants), early (2, behind a manual gate), fleet (4).
script -qec "\"$FLOTILLA\" apply --driver dir:$TMP/acc --through canary" /dev/null >"$TMP/tty.out" 2>&1 ||
	fail "apply --through canary on a terminal failed: $(cat "$TMP/tty.out")"
# The last drawing of the three lines, without the cursor movements.
screen=$(tr -d '\r' <"$TMP/tty.out" | sed 's/\x1b\[[0-9]*[AK]//g')
assert_contains "$screen" "canary     [####################] success: applied 2/2"
# Waves that have not started show an empty bar, not a full one.
assert_contains "$screen" "early      [....................] not started"
assert_contains "$screen" "fleet      [....................] not started"
assert_not_contains "$screen" "early      [#"
# Redrawn in place: the cursor goes back up over the three lines.
grep -q $'\x1b\[3A' "$TMP/tty.out" || fail "the progress lines are not redrawn in place"

# Not a terminal: plain lines, no bars, no escape sequences.
run_fl 5 apply --driver "dir:$TMP/acc"
assert_contains "$OUT" "early      pending  awaiting promotion"
assert_not_contains "$OUT" "[...."
if grep -q $'\x1b' "$OUT_FILE"; then fail "escape sequences in output that is not a terminal"; fi

# --format json: every line of standard output is a JSON object.
run_fl 0 promote HEAD --wave early -m "canaries are fine"
run_fl 0 apply --driver "dir:$TMP/acc" --format json
python3 - "$OUT_FILE" <<'EOF' || fail "apply --format json printed something that is not a JSON object per line"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no output"
for line in lines:
    assert isinstance(json.loads(line), dict), line
EOF
