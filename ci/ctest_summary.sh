#!/usr/bin/env bash
# ci/ctest_summary.sh LOG...: one line "N passed, N failed" for the ctest
# runs whose output the LOGs hold, summed (ci/test.sh ends with it, for
# both builds). Each run is read from ctest's own summary line ("98% tests
# passed, 1 tests failed out of 66"); a LOG without one (missing, or the
# build failed and ctest never ran) counts nothing.
set -euo pipefail

passed=0
failed=0
summary='([0-9]+)% tests passed, ([0-9]+) tests? failed out of ([0-9]+)'
for log in "$@"; do
	[[ -f $log ]] || continue
	line=$(grep -E "^$summary" "$log" | tail -n 1) || continue
	[[ $line =~ $summary ]] || continue
	failed=$((failed + BASH_REMATCH[2]))
	passed=$((passed + BASH_REMATCH[3] - BASH_REMATCH[2]))
done
echo "$passed passed, $failed failed"
