#!/usr/bin/env bash
# `cmake --install` of the build under test (FL_BUILD) into a fresh prefix
# installs exactly the binary, flotilla(1) gzipped, the bash and zsh
# completions and the licence, in the GNUInstallDirs layout that the Debian
# package has too; what it installs is what the binary prints (the man page
# and the completions are generated from its option tables at build time).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

: "${FL_BUILD:?set FL_BUILD to the build directory}"

prefix=$TMP/prefix
cmake --install "$FL_BUILD" --prefix "$prefix" >"$TMP/install.log" 2>&1 ||
	fail "cmake --install failed: $(cat "$TMP/install.log")"

files=$(cd "$prefix" && find . -type f -o -type l | sort)
expected='./bin/flotilla
./share/bash-completion/completions/flotilla
./share/doc/flotilla/copyright
./share/man/man1/flotilla.1.gz
./share/zsh/vendor-completions/_flotilla'
assert_eq "$files" "$expected"
[[ -x $prefix/bin/flotilla ]] || fail "bin/flotilla is not executable"

FLOTILLA=$prefix/bin/flotilla
run_fl 0 version
assert_matches "$OUT" '^flotilla [0-9]+\.[0-9]+\.[0-9]+'

run_fl 0 help --man
[[ $(gzip -dc "$prefix/share/man/man1/flotilla.1.gz") == "$OUT" ]] ||
	fail "the installed man page is not what 'flotilla help --man' prints"
run_fl 0 help --completion bash
assert_eq "$(cat "$prefix/share/bash-completion/completions/flotilla")" "$OUT"
run_fl 0 help --completion zsh
assert_eq "$(cat "$prefix/share/zsh/vendor-completions/_flotilla")" "$OUT"
cmp -s "$prefix/share/doc/flotilla/copyright" "$FL_SOURCE/LICENSE" || fail "share/doc/flotilla/copyright is not LICENSE"
