#!/bin/sh
# The apply curve of docs/benchmarks.md ("Capacity (issue 11)"): for fleets
# of 1,000, 10,000 and 100,000 tenants that `flbench gen` wrote, the commit
# `new` with the canary's bake and the manual gate taken out is planned, then
# applied with the dir driver onto a fresh copy of the accounts converged at
# `old` (every tenant changes). Each binary given runs K times per size, the
# binaries in turn, and gets one line per size: min/median/max of apply wall
# time, CPU per tenant and peak RSS; the note's size on the commit, the notes
# commits and the bytes of new blobs the apply added under refs/notes/flotilla*
# (target: blobs <= 3 x the note); the plan's wall time, CPU and peak RSS. Then the
# scaling verdicts: CPU per tenant at every size within 20% of the smallest,
# peak RSS under 512 MiB. Builds nothing: build-bench/ is what bench/run.sh
# builds (or: cmake --build build-bench --target flotilla flbench).
# Usage: bench/apply_curve.sh [FLOTILLA...]   (default build-bench/flotilla)
#   APPLY_TENANTS    fleet sizes (default "1000 10000 100000")
#   APPLY_RESOURCES  resources per release (default 2: the rollout, not rendering)
#   APPLY_RUNS       runs per binary and size (default 3)
#   FLBENCH          the generator (default build-bench/flbench)
#   BENCH_DIR        where generated fleets are kept (default bench/.data,
#                    shared with run.sh: same names, same params stamp), and
#                    apply-curve-results.txt, every run's figures
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/fleet.sh"
tenants_list=${APPLY_TENANTS:-"1000 10000 100000"}
resources=${APPLY_RESOURCES:-2}
runs=${APPLY_RUNS:-3}
flbench=${FLBENCH:-"$root/build-bench/flbench"}
data=${BENCH_DIR:-"$root/bench/.data"}
[ $# -gt 0 ] || set -- "$root/build-bench/flotilla"

for f in "$flbench" "$@"; do
	[ -x "$f" ] || { echo "not an executable: $f (build first: bench/run.sh, or cmake --build build-bench --target flotilla flbench)" >&2; exit 1; }
done
mkdir -p "$data"
data=$(cd "$data" && pwd) # flbench gen needs an absolute path
work=$(mktemp -d "$data/apply-curve.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$data/apply-curve-results.txt # every run, kept for the record
: >"$results"

# The refs that hold flotilla's notes: refs/notes/flotilla, and any other
# ref whose name starts with it (a layout may spread one ledger over several);
# their names, or with FIELD objectname the commits they point at.
notes_refs() { # GIT_DIR [FIELD]
	git -C "$1" for-each-ref --format="%(refname) %(${2:-refname})" refs/notes/ |
		awk '$1 ~ /^refs\/notes\/flotilla/ { print $2 }'
}

# Plans, then applies, with binary FLOTILLA on a fresh copy of fleet DIR;
# appends to $results: N INDEX (the binary's place in the arguments), apply
# wall s, CPU ms per tenant, peak MiB, note KiB, notes commits, new blob KiB,
# blobs/note, plan wall s, plan MiB, plan CPU s (user + system), user CPU ms
# per tenant (flotilla's own work; the rest is the kernel's, file system
# and writeback, which moves with whatever else the disk is doing).
run_once() { # N DIR INDEX FLOTILLA
	n=$1 dir=$2 index=$3 flotilla=$4
	rm -rf "$work/fleet" "$work/accounts"
	cp -r "$dir/fleet" "$work/fleet"
	cp -r "$dir/accounts-old" "$work/accounts"
	git="git -C $work/fleet -c user.name=bench -c user.email=bench@flotilla.invalid"
	yaml=$($git show new:fleet.yaml | sed '/^    bake:/d; /^    gate: manual/d' | $git hash-object -w --stdin)
	tree=$($git ls-tree new | sed "s/[0-9a-f]\{40\}\tfleet.yaml\$/$yaml\tfleet.yaml/" | $git mktree)
	rev=$(echo "apply benchmark" | $git commit-tree "$tree" -p new)
	before=$(notes_refs "$work/fleet" objectname | sed 's/^/^/')

	/usr/bin/time -f '%e %M %U %S' -o "$work/plan.time" "$flotilla" plan --repo "$work/fleet" --rev "$rev" \
		--driver "dir:$work/accounts" >/dev/null 2>"$work/out" || { echo "FAIL: plan, $flotilla"; tail -5 "$work/out"; exit 1; }
	start=$(date +%s.%N)
	/usr/bin/time -f '%U %S %M' -o "$work/apply.time" "$flotilla" apply --repo "$work/fleet" --rev "$rev" \
		--driver "dir:$work/accounts" >"$work/out" 2>&1 || { echo "FAIL: apply, $flotilla"; tail -5 "$work/out"; exit 1; }
	end=$(date +%s.%N)

	after=$(notes_refs "$work/fleet")
	[ -n "$after" ] || { echo "FAIL: no refs/notes/flotilla* after the apply, $flotilla"; exit 1; }
	note=0
	for ref in $after; do
		size=$($git notes --ref="$ref" show "$rev" 2>/dev/null | wc -c)
		note=$((note + size))
	done
	# shellcheck disable=SC2086 # one ref per word
	commits=$($git rev-list --count $after $before)
	# shellcheck disable=SC2086
	blobs=$($git rev-list --objects $after $before | cut -d' ' -f1 |
		$git cat-file --batch-check='%(objecttype) %(objectsize)' | awk '$1 == "blob" { s += $2 } END { print s + 0 }')
	read -r plan_wall plan_rss plan_user plan_sys <"$work/plan.time"
	read -r user sys rss <"$work/apply.time"
	awk -v n="$n" -v i="$index" -v w="$(echo "$end - $start" | bc)" -v u="$user" -v s="$sys" -v r="$rss" \
		-v note="$note" -v c="$commits" -v b="$blobs" -v pw="$plan_wall" -v pr="$plan_rss" -v pu="$plan_user" -v ps="$plan_sys" 'BEGIN {
		printf "%d %d %.3f %.4f %.1f %.1f %d %.1f %.2f %.2f %.1f %.2f %.4f\n", n, i, w, (u + s) * 1000 / n, r / 1024,
			note / 1024, c, b / 1024, note ? b / note : 0, pw, pr / 1024, pu + ps, u * 1000 / n }' >>"$results"
}

# min/median/max (STAT=range), median, or max of column COL of the runs of
# size N, binary INDEX, each printed with the printf format FMT.
stat() { # STAT N INDEX COL FMT
	awk -v n="$2" -v i="$3" -v c="$4" '$1 == n && $2 == i { print $c }' "$results" | sort -g |
		awk -v how="$1" -v f="$5" '
		{ v[NR] = $1 }
		END {
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			if (how == "range") printf f "/" f "/" f, v[1], med, v[NR]
			else if (how == "median") printf f, med
			else printf f, v[NR]
		}'
}

uptime_line() { printf '== %s: %s\n' "$1" "$(uptime | sed 's/^ *//')"; }

for n in $tenants_list; do
	dir="$data/t$n-r$resources"
	bench_fleet "$dir" "$n" "$resources" "$flbench"
	uptime_line "before $n"
	k=1
	while [ "$k" -le "$runs" ]; do
		i=1
		for flotilla in "$@"; do
			run_once "$n" "$dir" "$i" "$flotilla"
			i=$((i + 1))
		done
		k=$((k + 1))
	done
	uptime_line "after $n"
	echo "== $n tenants, $runs runs per binary in turn: min/median/max, then medians; blobs/note the worst run"
	printf '%-32s %-20s %-20s %-18s %9s %7s %10s %10s %-7s %8s %8s %8s\n' binary "apply wall s" "cpu/tenant ms" \
		"peak MiB" "note KiB" commits "blobs KiB" blobs/note "(<= 3)" "plan s" "plan cpu" "plan MiB"
	i=1
	for flotilla in "$@"; do
		ratio=$(stat max "$n" "$i" 9 %.2f)
		verdict=FAIL
		[ "$(echo "$ratio <= 3" | bc)" = 1 ] && verdict=ok
		printf '%-32s %-20s %-20s %-18s %9s %7s %10s %10s %-7s %8s %8s %8s\n' "$flotilla" \
			"$(stat range "$n" "$i" 3 %.2f)" "$(stat range "$n" "$i" 4 %.3f)" "$(stat range "$n" "$i" 5 %.1f)" \
			"$(stat median "$n" "$i" 6 %.1f)" "$(stat median "$n" "$i" 7 %.0f)" "$(stat median "$n" "$i" 8 %.1f)" \
			"$ratio" "$verdict" "$(stat median "$n" "$i" 10 %.2f)" "$(stat median "$n" "$i" 12 %.2f)" \
			"$(stat median "$n" "$i" 11 %.1f)"
		i=$((i + 1))
	done
done

echo "== scaling: median CPU per tenant within 20% of the smallest fleet's; peak RSS under 512 MiB at every size"
i=1
for flotilla in "$@"; do
	base='' base_n='' base_user=''
	for n in $tenants_list; do
		cpu=$(stat median "$n" "$i" 4 %.3f)
		user=$(stat median "$n" "$i" 13 %.3f)
		rss=$(stat max "$n" "$i" 5 %.1f)
		if [ -z "$base" ]; then
			base=$cpu base_n=$n base_user=$user cpu_verdict="(the base)" user_ratio=""
		else
			cpu_verdict=$(awk -v c="$cpu" -v b="$base" -v bn="$base_n" \
				'BEGIN { printf "x%.2f of %d: %s", c / b, bn, c <= 1.2 * b ? "ok" : "FAIL" }')
			user_ratio=$(awk -v c="$user" -v b="$base_user" 'BEGIN { printf "x%.2f", (b > 0 ? c / b : 0) }')
		fi
		rss_verdict=FAIL
		[ "$(echo "$rss < 512" | bc)" = 1 ] && rss_verdict=ok
		printf '%-32s %7d tenants  cpu/tenant %7s ms %-20s  (user %s ms %s)  peak %7s MiB %s\n' "$flotilla" "$n" \
			"$cpu" "$cpu_verdict" "$user" "$user_ratio" "$rss" "$rss_verdict"
	done
	i=$((i + 1))
done
