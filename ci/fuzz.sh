#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan) into
# build-fuzz/ and runs each for SECONDS (default 30), one after another.
# Usage: ci/fuzz.sh [SECONDS [TARGET...]]   (TARGET like fuzz_json; default all)
# Exits non-zero on any finding: a crash, a leak, undefined behaviour, a
# timeout (an input taking over 10 s) or memory past 2 GiB. The input that
# caused it is kept as build-fuzz/artifacts/<target>-<kind>-<sha1>; replay it
# with build-fuzz/tests/fuzz/<target> <file>. Corpora grow in
# build-fuzz/corpus/<target>, seeded from fixtures/ on every run.
#   FL_FUZZ_DIR  the build directory (default: build-fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-30}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: ci/fuzz.sh [SECONDS [TARGET...]]" >&2
	exit 2
fi
shift || true

ci/setup.sh

dir=${FL_FUZZ_DIR:-build-fuzz}
echo "==> cmake -S . -B $dir (clang, FL_FUZZ)"
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DFL_FUZZ=ON -DFL_TESTS=OFF -DFL_WERROR=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "==> cmake --build $dir -j$(nproc)"
cmake --build "$dir" -j"$(nproc)"

targets=("$@")
if ((${#targets[@]} == 0)); then
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		[[ $name == fuzz_files ]] || targets+=("$name")
	done
fi

seeds=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-fuzz-seeds.XXXXXX")
trap 'rm -rf "$seeds"' EXIT
python3 tests/fuzz/seeds.py fixtures "$seeds"
mkdir -p "$dir/artifacts" "$dir/logs"

# Leaks are findings; sanitizer reports stop the run with a stack trace.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}

failed=()
for t in "${targets[@]}"; do
	bin=$dir/tests/fuzz/$t
	if [[ ! -x $bin ]]; then
		echo "ci/fuzz.sh: no fuzz target '$t'" >&2
		exit 2
	fi
	corpus=$dir/corpus/$t
	log=$dir/logs/$t.log
	mkdir -p "$corpus"
	echo
	echo "==> $t for ${seconds}s (log: $log)"
	# New inputs go to the first directory; the seeds are only read.
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-" \
		"$corpus" "$seeds/$t" >"$log" 2>&1; then
		grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
		echo "==> $t: no findings, corpus $(find "$corpus" -type f | wc -l) files"
	else
		tail -n 60 "$log"
		echo "==> $t: FINDING (see $log and $dir/artifacts/)"
		failed+=("$t")
	fi
done

echo
if ((${#failed[@]})); then
	echo "==> fuzz: findings in ${failed[*]}"
	exit 1
fi
echo "==> fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
