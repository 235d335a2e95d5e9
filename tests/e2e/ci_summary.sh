#!/usr/bin/env bash
# ci/test.sh ends with one line, "N passed, N failed", counting the tests
# of both builds (plain and sanitized) and of the package (ci/package.sh). Checked on saved ctest output and
# on ci/test.sh itself, run against stand-ins for the builds, ctest and the
# fuzzers (the real thing takes a quarter of an hour).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

: "${FL_SOURCE:?set FL_SOURCE to the source tree}"
SUMMARY=$FL_SOURCE/ci/ctest_summary.sh

# ---- ctest_summary.sh on ctest's own output ---------------------------------------
cat >"$TMP/pass.log" <<'LOG'
Test project /src/build
    Start 1: core/test_buf
1/3 Test #1: core/test_buf ....................   Passed    0.02 sec
    Start 2: core/test_git
2/3 Test #2: core/test_git ....................   Passed    1.20 sec
    Start 3: e2e/version
3/3 Test #3: e2e/version ......................   Passed    0.50 sec

100% tests passed, 0 tests failed out of 3

Total Test time (real) =   1.75 sec
LOG
cat >"$TMP/fail.log" <<'LOG'
Test project /src/build-san
    Start 1: core/test_buf
1/3 Test #1: core/test_buf ....................   Passed    0.02 sec
    Start 2: core/test_git
2/3 Test #2: core/test_git ....................***Failed    1.20 sec
FAIL: 33% tests passed, 1 tests failed out of 3 (a test's own output, not the summary)
    Start 3: e2e/version
3/3 Test #3: e2e/version ......................***Timeout 1500.01 sec

33% tests passed, 2 tests failed out of 3

Total Test time (real) = 1501.23 sec

The following tests FAILED:
	  2 - core/test_git (Failed)
	  3 - e2e/version (Timeout)
LOG
assert_eq "$("$SUMMARY" "$TMP/pass.log")" "3 passed, 0 failed"
assert_eq "$("$SUMMARY" "$TMP/fail.log")" "1 passed, 2 failed"
assert_eq "$("$SUMMARY" "$TMP/pass.log" "$TMP/fail.log")" "4 passed, 2 failed"
# A build that failed never ran ctest: its log is missing, or holds no summary.
echo "make: *** [all] Error 2" >"$TMP/nobuild.log"
assert_eq "$("$SUMMARY" "$TMP/pass.log" "$TMP/nobuild.log" "$TMP/missing.log")" "3 passed, 0 failed"
assert_eq "$("$SUMMARY")" "0 passed, 0 failed"

# ---- ci/test.sh, with stand-ins ----------------------------------------------------
# FAKE_BUILD_FAILS names a build that fails; FAKE_SAN_FAILS makes a test of
# the sanitized build fail; FAKE_PACKAGE_FAILS, two of the package's three.
R=$TMP/repo
mkdir -p "$R/ci" "$TMP/bin"
cp "$FL_SOURCE/ci/test.sh" "$FL_SOURCE/ci/ctest_summary.sh" "$R/ci/"
printf '#!/bin/sh\nexit 0\n' >"$R/ci/setup.sh"
cat >"$R/ci/build.sh" <<'FAKE'
#!/bin/sh
[ "$1" != "$FAKE_BUILD_FAILS" ]
FAKE
cat >"$R/ci/package.sh" <<'FAKE'
#!/bin/sh
if [ -n "$FAKE_PACKAGE_FAILS" ]; then
	cat "$FAKE_LOGS/fail.log"
	exit 8
fi
cat "$FAKE_LOGS/pass.log"
FAKE
cat >"$R/ci/fuzz.sh" <<'FAKE'
#!/bin/sh
echo "fuzzed for $1 s"
FAKE
cat >"$TMP/bin/ctest" <<'FAKE'
#!/bin/sh
# --test-dir DIR: build/ has 3 tests, all pass; build-san/ too, unless FAKE_SAN_FAILS.
case "$2" in
build) cat "$FAKE_LOGS/pass.log" ;;
build-san)
	if [ -n "$FAKE_SAN_FAILS" ]; then
		cat "$FAKE_LOGS/fail.log"
		echo "Errors while running CTest" >&2
		exit 8
	fi
	cat "$FAKE_LOGS/pass.log"
	;;
esac
FAKE
chmod +x "$R/ci/"*.sh "$TMP/bin/ctest"
export FAKE_LOGS=$TMP

ci_test() {
	local want=$1 got=0
	PATH=$TMP/bin:$PATH "$R/ci/test.sh" >"$TMP/ci.out" 2>"$TMP/ci.err" || got=$?
	if [[ $want == 0 ]]; then
		[[ $got == 0 ]] || fail "ci/test.sh exited $got, expected 0: $(cat "$TMP/ci.out" "$TMP/ci.err")"
	else
		[[ $got != 0 ]] || fail "ci/test.sh exited 0, expected a failure: $(cat "$TMP/ci.out")"
	fi
	LAST=$(tail -n 1 "$TMP/ci.out")
}

FAKE_BUILD_FAILS='' FAKE_SAN_FAILS='' FAKE_PACKAGE_FAILS='' ci_test 0
assert_eq "$LAST" "9 passed, 0 failed"
assert_contains "$TMP/ci.out" "==> tests: plain pass, package pass, sanitize (ASan+UBSan) pass"

FAKE_BUILD_FAILS='' FAKE_SAN_FAILS=1 FAKE_PACKAGE_FAILS='' ci_test 1
assert_eq "$LAST" "7 passed, 2 failed"
assert_contains "$TMP/ci.out" "==> tests: plain pass, package pass, sanitize (ASan+UBSan) fail"

FAKE_BUILD_FAILS=sanitize FAKE_SAN_FAILS='' FAKE_PACKAGE_FAILS='' ci_test 1
assert_eq "$LAST" "6 passed, 0 failed"
assert_contains "$TMP/ci.out" "==> tests: plain pass, package pass, sanitize (ASan+UBSan) fail"

FAKE_BUILD_FAILS='' FAKE_SAN_FAILS='' FAKE_PACKAGE_FAILS=1 ci_test 1
assert_eq "$LAST" "7 passed, 2 failed"
assert_contains "$TMP/ci.out" "==> tests: plain pass, package fail, sanitize (ASan+UBSan) pass"
