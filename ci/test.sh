#!/usr/bin/env bash
# Builds flotilla twice and runs every test in each build: plainly (build/),
# then under AddressSanitizer and UndefinedBehaviorSanitizer (build-san/);
# builds the Debian package from build/ and tests it on a clean Debian root
# (ci/package.sh: needs root or sudo, and the network to deb.debian.org);
# then runs every fuzz target for FL_FUZZ_SECONDS each (ci/fuzz.sh; default
# and minimum 30). Exits non-zero if any build or test fails, or fuzzing
# finds anything. The last line counts the tests of both builds and of the
# package: "N passed, N failed" (ci/ctest_summary.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci/setup.sh

plain=fail
sanitize=fail
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

if ci/build.sh plain && ctest --test-dir build --output-on-failure --no-tests=error -j2 | tee "$logs/plain.log"; then
	plain=pass
fi

package=fail
if ci/package.sh | tee "$logs/package.log"; then
	package=pass
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if ci/build.sh sanitize && ctest --test-dir build-san --output-on-failure --no-tests=error -j2 | tee "$logs/sanitize.log"; then
	sanitize=pass
fi

fuzz=fail
seconds=${FL_FUZZ_SECONDS:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 30)); then
	seconds=30
fi
if ci/fuzz.sh "$seconds"; then
	fuzz=pass
fi

echo
echo "==> tests: plain $plain, package $package, sanitize (ASan+UBSan) $sanitize, fuzz (${seconds}s a target) $fuzz"
ci/ctest_summary.sh "$logs/plain.log" "$logs/package.log" "$logs/sanitize.log"
[[ $plain == pass && $package == pass && $sanitize == pass && $fuzz == pass ]]
