#!/usr/bin/env bash
# Builds the Debian package from the plain build and tests it. Usage:
#   ci/package.sh            build it, then run tests/package/*.sh through ctest
#   ci/package.sh --no-test  build it only
# The package is build/flotilla_VERSION_ARCH.deb (cpack -G DEB in build/,
# after ci/build.sh plain); the path is the last line printed. The tests
# install it with apt on a clean Debian bookworm root and run it, and check
# the Dockerfile; they need root (sudo is used when not root), debootstrap
# (ci/setup.sh) and the network to deb.debian.org: tests/package/root.sh.
# They run through ctest, whose summary line ci/test.sh counts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci/build.sh plain
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build/CMakeCache.txt)
deb=build/flotilla_${version}_$(dpkg --print-architecture).deb
rm -f "$deb"
echo "==> cpack -G DEB (in build/)"
(cd build && cpack -G DEB)
if [[ ! -f $deb ]]; then
	echo "ci/package.sh: cpack made no $deb" >&2
	exit 1
fi

if [[ ${1:-} != --no-test ]]; then
	sudo=()
	if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
		sudo=(sudo --preserve-env=FL_PACKAGE_CACHE,FL_DEBIAN_MIRROR,TMPDIR)
	fi
	# A test directory of their own: the suite of build/ does not run them.
	tests=build/package-tests
	mkdir -p "$tests"
	cat >"$tests/CTestTestfile.cmake" <<EOF
# Written by ci/package.sh: the package's tests (ctest --test-dir $tests).
add_test(package/deb_install bash "$PWD/tests/package/deb_install.sh" "$PWD/$deb")
set_tests_properties(package/deb_install PROPERTIES TIMEOUT 900)
add_test(package/dockerfile bash "$PWD/tests/package/dockerfile.sh")
set_tests_properties(package/dockerfile PROPERTIES TIMEOUT 900)
EOF
	echo "==> ctest --test-dir $tests (clean Debian bookworm roots)"
	"${sudo[@]}" ctest --test-dir "$tests" --output-on-failure --no-tests=error
fi
echo "==> package: $deb"
echo "$deb"
