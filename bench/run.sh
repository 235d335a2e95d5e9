#!/bin/sh
# The benchmark, in one command: builds a Release flotilla and flbench into
# build-bench/, generates (or reuses) fleets of N tenants x M resources, and
# prints the median wall time and peak RSS of the three plans of
# docs/benchmarks.md. Usage: bench/run.sh
#   BENCH_TENANTS    fleet sizes (default "10000 100000")
#   BENCH_RESOURCES  resources per release (default 50)
#   BENCH_RUNS       timed runs per scenario (default 5)
#   BENCH_DIR        where generated fleets are kept (default bench/.data)
#   BENCH_CHECKS_N   size n of the validation checks, timed at n and 10n (default 2000)
#   BENCH_A_B        another flotilla binary: the floor comparisons and the
#                    apply curve run it in turn with this one (an A/B)
#   APPLY_TENANTS, APPLY_RUNS, FLOOR_RUNS: see apply_curve.sh and floor_bench.sh
# Then the floor comparisons (floor_bench.sh) for each size and the apply
# curve (apply_curve.sh): issue 11's figures, all from this one command.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/fleet.sh"
build="$root/build-bench"
tenants_list=${BENCH_TENANTS:-"10000 100000"}
resources=${BENCH_RESOURCES:-50}
runs=${BENCH_RUNS:-5}
data=${BENCH_DIR:-"$root/bench/.data"}
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (Release) into $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_TESTS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target flotilla flbench flfloor >/dev/null
flbench="$build/flbench"

# Plans are timed on a machine that should be otherwise idle: warn when not.
if [ -r /proc/loadavg ]; then
	read -r load _ </proc/loadavg
	echo "== load average $load on $jobs cores (figures are only comparable when it is near 0)"
fi

results="$data/results.txt"
mkdir -p "$data"
: >"$results"

for n in $tenants_list; do
	dir="$data/t$n-r$resources"
	bench_fleet "$dir" "$n" "$resources" "$flbench"
	# The full plan is a target at 10,000 tenants only; past that, it
	# measures output volume, not planning.
	only=full,converged,since
	[ "$n" -gt 10000 ] && only=converged,since
	echo "== plans of $n tenants ($runs runs each, after one warm-up run)"
	"$flbench" run --dir "$dir" --runs "$runs" --only "$only" --results "$results"
	echo "== $n tenants: the plans beside the floor and git diff"
	"$root/bench/floor_bench.sh" "$dir" "$build/flotilla" ${BENCH_A_B:+"$BENCH_A_B"}
done

echo "== scaling"
"$flbench" report --results "$results"

echo "== validation checks at n and 10n (O(n log n): a ratio near 10, not 100)"
"$flbench" checks --out "$data" --n "${BENCH_CHECKS_N:-2000}" --runs "$runs"

echo "== the apply curve"
BENCH_DIR=$data FLBENCH=$flbench "$root/bench/apply_curve.sh" "$build/flotilla" ${BENCH_A_B:+"$BENCH_A_B"}
