#!/usr/bin/env bash
# Helpers of the package tests (sourced): a clean Debian bookworm root to
# install the package into. The first use debootstraps a minimal root
# (--variant=minbase, about 3 minutes and 200 MB) and caches it as a tarball
# in $FL_PACKAGE_CACHE (default: $XDG_CACHE_HOME/flotilla-ci, else
# ~/.cache/flotilla-ci); each test then unpacks a fresh copy (seconds), so
# what one test installs never leaks into another.
# Needs root (debootstrap, chroot, and mounting /proc in the root: flotilla
# starts its verify wrapper through /proc/self/exe), debootstrap, and the
# network to $FL_DEBIAN_MIRROR (default http://deb.debian.org/debian). Without
# them a test fails: it does not skip.
set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
FL_DEBIAN_MIRROR=${FL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
FL_PACKAGE_CACHE=${FL_PACKAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla-ci}
SUITE=bookworm

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || fail "needs root: debootstrap, chroot and mount (run ci/package.sh as root, or with sudo)"
command -v debootstrap >/dev/null || fail "needs debootstrap (ci/setup.sh installs it)"

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fl-$TEST_NAME.XXXXXX")
PROC_MOUNTED=

# Unmounts /proc before removing the root, and keeps the root when that fails:
# rm -rf must never walk into a mounted /proc.
cleanup() {
	if [[ -n $PROC_MOUNTED ]] && ! umount "$ROOT/proc"; then
		echo "$TEST_NAME: cannot unmount $ROOT/proc: $ROOT left in place" >&2
		return
	fi
	rm -rf "$ROOT"
}
trap cleanup EXIT

# The cached tarball of a pristine minbase root, made on first use.
cached_root() {
	local tarball=$FL_PACKAGE_CACHE/$SUITE-minbase.tar
	if [[ ! -f $tarball ]]; then
		local work
		mkdir -p "$FL_PACKAGE_CACHE"
		work=$(mktemp -d "$FL_PACKAGE_CACHE/debootstrap.XXXXXX")
		echo "==> $TEST_NAME: debootstrap --variant=minbase $SUITE (cached in $tarball)" >&2
		debootstrap --variant=minbase "$SUITE" "$work" "$FL_DEBIAN_MIRROR" >"$work.log" 2>&1 ||
			{ tail -n 20 "$work.log" >&2; rm -rf "$work"; fail "debootstrap failed (log above)"; }
		tar -C "$work" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$work" "$work.log"
	fi
	echo "$tarball"
}

# fresh_root: unpacks a clean root into $ROOT with /proc mounted, the host's
# resolver, and apt's lists refreshed.
fresh_root() {
	tar -C "$ROOT" -xf "$(cached_root)"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	mount -t proc proc "$ROOT/proc"
	PROC_MOUNTED=1
	in_root apt-get update -q >/dev/null || fail "apt-get update in the clean root failed"
}

# in_root CMD...: runs CMD in the root, as root, without a terminal.
in_root() {
	chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
