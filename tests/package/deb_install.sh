#!/usr/bin/env bash
# tests/package/deb_install.sh DEB: the Debian package installs and works on
# a clean Debian bookworm (tests/package/root.sh: a minbase root, as root):
#   - apt-get install DEB succeeds with nothing but bookworm's archive, so its
#     Depends name every library flotilla needs (and no package that is not
#     there), and dpkg -L lists exactly the expected files;
#   - flotilla runs: version, init, apply with the dir driver (exit 5 at the
#     early wave's manual gate), promote, apply again to the end (exit 0);
#   - man finds flotilla(1), and the bash completion completes.
# ci/package.sh builds DEB and runs this through ctest.
# shellcheck source-path=SCRIPTDIR source=root.sh
source "$(dirname "$0")/root.sh"

deb=${1:?usage: deb_install.sh DEB}
[[ -f $deb ]] || fail "no package at $deb"

fresh_root
cp "$deb" "$ROOT/tmp/flotilla.deb"
in_root apt-get install -y -q --no-install-recommends /tmp/flotilla.deb >"$ROOT/tmp/install.log" 2>&1 ||
	fail "apt-get install of the package failed: $(tail -n 20 "$ROOT/tmp/install.log")"

files=$(in_root dpkg -L flotilla | while read -r f; do [[ -d $ROOT$f ]] || echo "$f"; done | sort)
expected='/usr/bin/flotilla
/usr/share/bash-completion/completions/flotilla
/usr/share/doc/flotilla/copyright
/usr/share/man/man1/flotilla.1.gz
/usr/share/zsh/vendor-completions/_flotilla'
[[ $files == "$expected" ]] || fail "the package holds
$files
expected
$expected"

version=$(in_root flotilla version) || fail "flotilla version failed in the clean root"
[[ $version == "flotilla $(dpkg-deb -f "$deb" Version)" ]] || fail "flotilla version printed '$version'"

# The example fleet, rolled out with the dir driver: canaries, then the gate, then the rest.
in_root flotilla init /tmp/fleet >/dev/null || fail "flotilla init failed in the clean root"
rc=0
in_root flotilla apply --repo /tmp/fleet --driver dir:/tmp/accounts >"$ROOT/tmp/apply.log" 2>&1 || rc=$?
[[ $rc -eq 5 ]] || fail "flotilla apply exited $rc, expected 5 (waiting at the gate): $(cat "$ROOT/tmp/apply.log")"
in_root flotilla promote HEAD --wave early --repo /tmp/fleet >/dev/null || fail "flotilla promote failed"
in_root flotilla apply --repo /tmp/fleet --driver dir:/tmp/accounts >"$ROOT/tmp/apply.log" 2>&1 ||
	fail "flotilla apply after the promotion failed: $(cat "$ROOT/tmp/apply.log")"
accounts=$(find "$ROOT/tmp/accounts" -mindepth 1 -maxdepth 1 -type d | wc -l)
[[ $accounts -eq 8 ]] || fail "the rollout reached $accounts accounts, expected the example fleet's 8"

# man-db is not in minbase: installing it proves the page is where man looks.
in_root apt-get install -y -q --no-install-recommends man-db >/dev/null 2>&1 || fail "cannot install man-db"
page=$(in_root man -w flotilla) || fail "man -w flotilla finds no page"
[[ $page == /usr/share/man/man1/flotilla.1.gz ]] || fail "man -w flotilla: $page"
in_root sh -c 'MANWIDTH=80 man flotilla 2>&1' | grep -q 'COMMANDS' || fail "man flotilla does not render"

got=$(in_root bash -c 'source /usr/share/bash-completion/completions/flotilla
	COMP_WORDS=(flotilla pl); COMP_CWORD=1; _flotilla; echo "${COMPREPLY[*]}"')
[[ $got == plan ]] || fail "bash completion of 'flotilla pl' offered '$got'"
echo "$TEST_NAME: $(basename "$deb") installs and runs on a clean $SUITE"
