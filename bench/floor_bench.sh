#!/usr/bin/env bash
# The floor comparisons of docs/benchmarks.md ("Near the floor"), side by
# side in one run: for a fleet that `flbench gen` wrote into DIR, times in
# turn, FLOOR_RUNS rounds of one run each (after one warm-up round):
#   floor        flfloor --identity: every tenant blob, marker and account.json
#   floor-m      flfloor: every tenant blob and marker, nothing else
#   converged    flotilla plan --rev new, accounts converged at new
#   git-diff     git diff --name-only BASE HEAD
#   git2-start   flfloor --start-only: libgit2 started as flotilla starts it
#                (its CA parse put off: core/git_init.c), the fleet opened,
#                HEAD resolved, nothing read (what a program on Debian's
#                libgit2 pays before its first tree; a since plan cannot
#                be faster)
#   fl-start     the first FLOTILLA's --version: its libraries loaded, nothing
#                else (what a since plan pays even without libgit2)
#   since        flotilla plan --rev HEAD --since BASE, accounts converged at new
# with each FLOTILLA binary given, and prints min/median/max wall time and
# median CPU time (user + system) of each and, per binary, the two ratios
# of wall-time medians with a verdict: converged / floor <= 1.3 and
# since / git-diff <= 1.5 (and the same ratios of CPU time, which other
# load on the machine disturbs less), and the converged plan's ratio
# round by round.
# Usage: bench/floor_bench.sh DIR FLOTILLA...
#   FLOOR_RUNS  rounds (default 9)
#   FLOOR_BASE  --since's commit and git diff's first (default new)
#   FLOOR_HEAD  the head they compare with it (default one-tenant: the pull
#               request that changes one tenant)
#   FLFLOOR     the floor program (default: flfloor next to the first FLOTILLA)
set -eu

if [ $# -lt 2 ]; then
	echo "usage: bench/floor_bench.sh DIR FLOTILLA..." >&2
	exit 2
fi
dir=$(cd "$1" && pwd)
shift
runs=${FLOOR_RUNS:-9}
base=${FLOOR_BASE:-new}
head=${FLOOR_HEAD:-one-tenant}
flfloor=${FLFLOOR:-"$(dirname "$1")/flfloor"}
fleet="$dir/fleet"
accounts="$dir/accounts-new"
for f in "$flfloor" "$@"; do
	[ -x "$f" ] || { echo "floor_bench: '$f' is not an executable" >&2; exit 2; }
done
[ -d "$fleet" ] && [ -d "$accounts" ] || { echo "floor_bench: $dir is not a fleet of flbench gen" >&2; exit 2; }

times=$(mktemp -d)
trap 'rm -rf "$times"' EXIT

# User + system CPU seconds of this shell's finished children so far, from
# bash's times (run here, not in a subshell, which has children of its own).
children_cpu() {
	times >"$times/times"
	awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$times/times"
}

# Runs "$@" with output discarded and appends its wall time in ms to
# $times/$name, its CPU time (user + system, all threads) to $times/$name.cpu.
timed() {
	local name=$1 t0 t1 c0 c1 rc=0
	shift
	children_cpu >"$times/c0"
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>"$times/stderr" || rc=$?
	t1=$EPOCHREALTIME
	children_cpu >"$times/c1"
	read -r c0 <"$times/c0"
	read -r c1 <"$times/c1"
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: $name exited $rc: $*" >&2
		cat "$times/stderr" >&2
		exit 1
	fi
	echo "$t0 $t1" | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' >>"$times/$name"
	echo "$c0 $c1" | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' >>"$times/$name.cpu"
}

round() {
	local i=0
	timed floor "$flfloor" --repo "$fleet" --rev new --accounts "$accounts" --identity
	timed floor-m "$flfloor" --repo "$fleet" --rev new --accounts "$accounts"
	for f in "$@"; do
		i=$((i + 1))
		timed "converged#$i" "$f" plan --repo "$fleet" --rev new --driver "dir:$accounts"
	done
	timed git-diff git -C "$fleet" diff --name-only "$base" "$head"
	timed git2-start "$flfloor" --repo "$fleet" --rev "$head" --start-only
	timed fl-start "$1" --version
	i=0
	for f in "$@"; do
		i=$((i + 1))
		timed "since#$i" "$f" plan --repo "$fleet" --rev "$head" --since "$base" --driver "dir:$accounts"
	done
}

# min median max of a file of numbers, one a line.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %.1f\n", v[1], m, v[NR] }'
}

median() { stats "$1" | awk '{ print $2 }'; }

verdict() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		r = a / b
		printf "%.2f (target <= %s): %s\n", r, t, r <= t ? "ok" : sprintf("MISSED by %.0f%%", (r / t - 1) * 100) }'
}

tenants=$(git -C "$fleet" ls-tree --name-only "new:tenants" | wc -l)
echo "== $tenants tenants in $dir; $runs rounds after one warm-up; load: $(cut -d' ' -f1-3 /proc/loadavg)"
i=0
for f in "$@"; do
	i=$((i + 1))
	echo "   #$i = $f"
done
round "$@"
rm -f "$times"/floor* "$times"/converged* "$times"/git-diff* "$times"/git2-start* "$times"/fl-start* \
	"$times"/since*
for r in $(seq "$runs"); do
	round "$@"
done

printf '%-12s %10s %10s %10s %14s\n' scenario "min ms" "median ms" "max ms" "median cpu ms"
for name in floor floor-m $(for i in $(seq $#); do echo "converged#$i"; done) git-diff git2-start fl-start \
	$(for i in $(seq $#); do echo "since#$i"; done); do
	printf '%-12s %10s %10s %10s %14s\n' "$name" $(stats "$times/$name") "$(median "$times/$name.cpu")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# min/median/max over the rounds of A's time / B's time in the same round:
# the two ran one after the other, so a load that drifts over the run
# moves both, where the ratio of medians compares different minutes.
paired() {
	paste "$times/$1" "$times/$2" | awk '{ printf "%.1f\n", 1000 * $1 / $2 }' >"$times/paired"
	stats "$times/paired" | awk '{ printf "%.2f / %.2f / %.2f", $1 / 1000, $2 / 1000, $3 / 1000 }'
}
for i in $(seq $#); do
	echo "#$i converged / floor:   $(verdict "$(median "$times/converged#$i")" "$(median "$times/floor")" 1.3)" \
		"(cpu $(ratio "$(median "$times/converged#$i.cpu")" "$(median "$times/floor.cpu")"))"
	echo "#$i converged / floor, round by round: $(paired "converged#$i" floor) (min / median / max)"
	echo "#$i converged / floor-m: $(ratio "$(median "$times/converged#$i")" "$(median "$times/floor-m")")" \
		"(blobs and markers only: no identity, which SPEC 4 requires)"
	echo "#$i since / git diff:    $(verdict "$(median "$times/since#$i")" "$(median "$times/git-diff")" 1.5)" \
		"(cpu $(ratio "$(median "$times/since#$i.cpu")" "$(median "$times/git-diff.cpu")"))"
done
echo "libgit2 start / git diff: $(ratio "$(median "$times/git2-start")" "$(median "$times/git-diff")")" \
	"(cpu $(ratio "$(median "$times/git2-start.cpu")" "$(median "$times/git-diff.cpu")")):" \
	"no program on this libgit2 can do a since plan in less"
echo "flotilla start / git diff: $(ratio "$(median "$times/fl-start")" "$(median "$times/git-diff")")" \
	"(cpu $(ratio "$(median "$times/fl-start.cpu")" "$(median "$times/git-diff.cpu")")):" \
	"#1 --version, its libraries loaded and nothing else"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
