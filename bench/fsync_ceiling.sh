#!/bin/sh
# What fewer syncs could buy at most (issue 11, item 3; docs/benchmarks.md,
# "Fewer syncs"): the apply curve of FLOTILLA run in turn with the same
# binary whose fsync and fdatasync do nothing (bench/no_fsync.c, preloaded),
# which no batching of syncs can beat. Usage: bench/fsync_ceiling.sh [FLOTILLA]
# APPLY_TENANTS (default "1000 10000"), APPLY_RUNS (default 5) and BENCH_DIR
# as for apply_curve.sh; builds nothing but the preloaded library.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
flotilla=${1:-"$root/build-bench/flotilla"}
[ -x "$flotilla" ] || { echo "not an executable: $flotilla (build first: bench/run.sh)" >&2; exit 1; }
flotilla=$(cd "$(dirname "$flotilla")" && pwd)/$(basename "$flotilla")
out="$root/build-bench/no-fsync"
mkdir -p "$out"
${CC:-cc} -shared -fPIC -O2 -o "$out/no_fsync.so" "$root/bench/no_fsync.c"
cat >"$out/flotilla-no-fsync" <<WRAP
#!/bin/sh
LD_PRELOAD="$out/no_fsync.so" exec "$flotilla" "\$@"
WRAP
chmod +x "$out/flotilla-no-fsync"
echo "== #1 $flotilla; #2 the same with every fsync a no-op (the ceiling of fewer syncs)"
APPLY_TENANTS=${APPLY_TENANTS:-"1000 10000"} APPLY_RUNS=${APPLY_RUNS:-5} \
	"$root/bench/apply_curve.sh" "$flotilla" "$out/flotilla-no-fsync"
