#!/usr/bin/env bash
# tests/package/dockerfile.sh: what can be checked of the Dockerfile without
# building the image (no registry for its base images is reachable here):
#   - every package it installs exists in Debian bookworm (apt-cache show in
#     a clean bookworm root, tests/package/root.sh);
#   - its build stage installs the build packages that ci/setup.sh installs,
#     less the test-only ones, so the two cannot drift apart;
#   - the paths it copies exist, and the tree they make configures with
#     FL_TESTS=OFF, as its build stage does;
#   - its runtime stage installs the package that the build stage's cpack
#     makes (whose Depends deb_install.sh proves), not a list of its own.
# shellcheck source-path=SCRIPTDIR source=root.sh
source "$(dirname "$0")/root.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
dockerfile=$src/Dockerfile
[[ -f $dockerfile ]] || fail "no Dockerfile at $dockerfile"

# The words of the Dockerfile's "apt-get install" commands, stage by stage:
# "STAGE PACKAGE" lines, the stage numbered from 1.
installs=$(awk '
	/^FROM / { stage++ }
	{ line = line $0 }
	/\\$/ { sub(/\\$/, "", line); next }
	{
		n = split(line, w, /[ \t]+/)
		for (i = 1; i <= n; i++) {
			if (w[i] == "install") { on = 1; continue }
			if (w[i] == "&&") on = 0
			if (on && w[i] !~ /^-/ && w[i] != "") print stage, w[i]
		}
		on = 0; line = ""
	}' "$dockerfile")
build_pkgs=$(awk '$1 == 1 { print $2 }' <<<"$installs" | sort)
run_pkgs=$(awk '$1 == 2 { print $2 }' <<<"$installs" | sort)
[[ -n $build_pkgs && -n $run_pkgs ]] || fail "no apt-get install found in both stages of the Dockerfile"

fresh_root
for p in $build_pkgs $run_pkgs; do
	[[ $p == */* ]] && continue # the package the build stage made
	in_root apt-cache show "$p" >/dev/null 2>&1 || fail "the Dockerfile installs '$p', which bookworm does not have"
done

# ci/setup.sh's packages, less those only the tests, fuzzing and packaging use.
setup_pkgs=$(sed -n '/^packages=(/,/^)/p' "$src/ci/setup.sh" | grep -vE '^\s*#|^packages=|^\)' | xargs -n1 | sort)
for p in $setup_pkgs; do
	case $p in
	lib*-dev | build-essential | cmake | pkg-config)
		[[ $p == libcmocka-dev || $p == libclang-rt-* ]] && continue
		grep -qx "$p" <<<"$build_pkgs" || fail "ci/setup.sh builds with $p, which the Dockerfile's build stage lacks"
		;;
	esac
done
grep -qx file <<<"$build_pkgs" || fail "the build stage lacks file, which cpack's dependency scan runs"

grep -q '/tmp/deb/flotilla_\*\.deb' <<<"$run_pkgs" ||
	fail "the runtime stage does not install the package the build stage made"
grep -qE '^USER [a-z]' "$dockerfile" && ! grep -qE '^USER root' "$dockerfile" || fail "the image does not run as a user other than root"
grep -qx 'ENTRYPOINT \["flotilla"\]' "$dockerfile" || fail "the entry point is not flotilla"

# The sources the build stage copies: they exist, and configure alone.
tree=$ROOT/tmp/src
mkdir -p "$tree"
while read -r -a words; do
	dest=${words[-1]}
	for path in "${words[@]:1:${#words[@]}-2}"; do
		[[ -e $src/$path ]] || fail "the Dockerfile copies '$path', which is not in the tree"
		if [[ $dest == */ || $dest == . || $dest == ./ ]]; then
			cp -r "$src/$path" "$tree/"
		else
			cp -r "$src/$path" "$tree/$dest"
		fi
	done
done < <(grep -E '^COPY [^-]' "$dockerfile")
cmake -S "$tree" -B "$ROOT/tmp/build" -DFL_TESTS=OFF >"$ROOT/tmp/cmake.log" 2>&1 ||
	fail "the tree the Dockerfile copies does not configure: $(tail -n 20 "$ROOT/tmp/cmake.log")"
echo "$TEST_NAME: the Dockerfile's packages exist in $SUITE and its sources configure"
