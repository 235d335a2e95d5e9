#!/bin/sh
# What sharding costs (docs/benchmarks.md, "Sharding"): one rollout of a
# generated fleet (`flbench gen`, every tenant changing, bake and gate taken
# out) applied with the dir driver through a smart-HTTP remote
# (tests/servers/git_http_server.py on loopback), three ways in turn:
#   plain    apply --repo URL, one process
#   1 shard  apply --repo URL --shard 1/1 (the barriers, with no one to wait for)
#   3 shards apply --repo URL --shard K/3, the three at once
# Each run starts from a fresh copy of the remote and the accounts. Prints,
# per way, min/median/max of the wall time (first start to last end) and of
# the CPU per tenant (user + system of all processes), and the median
# pushes and fetches the server saw (each fetch counted, whether or not it
# brought anything; a push or fetch of the notes is how
# shards share them). On a 2-core machine three shards cannot be faster
# than one process: the figures say what the coordination costs.
# Usage: bench/shard_bench.sh [FLOTILLA]   (default build-bench/flotilla)
#   SHARD_TENANTS  fleet size (default 3000)
#   SHARD_RUNS     runs per way (default 3)
#   FLBENCH        the generator (default build-bench/flbench)
#   BENCH_DIR      where generated fleets are kept (default bench/.data)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/fleet.sh"
flotilla=$(realpath "${1:-$root/build-bench/flotilla}")
flbench=${FLBENCH:-$root/build-bench/flbench}
n=${SHARD_TENANTS:-3000}
runs=${SHARD_RUNS:-3}
data=${BENCH_DIR:-$root/bench/.data}
work=$(mktemp -d "${TMPDIR:-/tmp}/fl-shard-bench.XXXXXX")
server_pid=
cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$data"
dir="$data/t$n-r2"
bench_fleet "$dir" "$n" 2 "$flbench"

# The commit rolled out: `new` without bake and gate, on branch bench.
cp -r "$dir/fleet" "$work/seed"
git="git -C $work/seed -c user.name=bench -c user.email=bench@flotilla.invalid"
yaml=$($git show new:fleet.yaml | sed '/^    bake:/d; /^    gate: manual/d' | $git hash-object -w --stdin)
tree=$($git ls-tree new | sed "s/[0-9a-f]\{40\}\tfleet.yaml\$/$yaml\tfleet.yaml/" | $git mktree)
rev=$(echo "shard benchmark" | $git commit-tree "$tree" -p new)
$git branch -f bench "$rev"
$git symbolic-ref HEAD refs/heads/bench
git clone -q --bare "$work/seed" "$work/seed.git"

mkdir -p "$work/srv"
python3 "$root/tests/servers/git_http_server.py" --root "$work/srv" --log "$work/requests.log" \
	>"$work/server.out" 2>&1 </dev/null &
server_pid=$!
i=0
while [ "$i" -lt 100 ] && ! grep -q '^PORT ' "$work/server.out"; do sleep 0.1; i=$((i + 1)); done
port=$(sed -n 's/^PORT //p' "$work/server.out")
[ -n "$port" ] || { echo "FAIL: the git server did not start"; cat "$work/server.out"; exit 1; }
url=http://127.0.0.1:$port/fleet.git
results=$work/results

# One run of a way: a fresh remote, accounts and caches; appends "WAY wall cpu_ms pushes fetches".
run_way() { # WAY
	rm -rf "$work/srv/fleet.git" "$work/accounts" "$work"/cache-* "$work"/time-*
	cp -r "$work/seed.git" "$work/srv/fleet.git"
	cp -r "$dir/accounts-old" "$work/accounts"
	: >"$work/requests.log"
	case $1 in
	plain) shards=1 extra= ;;
	one) shards=1 extra="--shard 1/1 --shard-run bench" ;;
	three) shards=3 extra=three ;;
	esac
	start=$(date +%s.%N)
	pids=
	k=1
	while [ "$k" -le "$shards" ]; do
		args=
		[ "$extra" = three ] && args="--shard $k/3 --shard-run bench" || args=$extra
		# shellcheck disable=SC2086 # the options are words
		FLOTILLA_CACHE_DIR=$work/cache-$k /usr/bin/time -f '%U %S' -o "$work/time-$k" \
			"$flotilla" apply --repo "$url" --rev "$rev" --driver "dir:$work/accounts" $args \
			>"$work/out-$k" 2>&1 &
		pids="$pids $!"
		k=$((k + 1))
	done
	# The processes of this run, not the server, also a child of this shell.
	for pid in $pids; do wait "$pid" || true; done
	end=$(date +%s.%N)
	k=1
	while [ "$k" -le "$shards" ]; do
		grep -q "rollout done" "$work/out-$k" || { echo "FAIL: $1, process $k"; tail -5 "$work/out-$k"; exit 1; }
		k=$((k + 1))
	done
	cpu=$(cat "$work"/time-* | awk '{ s += $1 + $2 } END { print s }')
	pushes=$(grep -c 'POST /fleet.git/git-receive-pack' "$work/requests.log" || true)
	# Each fetch and each push starts with a GET of info/refs (the log has no query string).
	refs=$(grep -c 'GET /fleet.git/info/refs' "$work/requests.log" || true)
	fetches=$((refs - pushes))
	awk -v w="$1" -v t="$(echo "$end - $start" | bc)" -v c="$cpu" -v n="$n" -v p="$pushes" -v f="$fetches" \
		'BEGIN { printf "%s %.2f %.3f %d %d\n", w, t, c * 1000 / n, p, f }' >>"$results"
}

stat() { # WAY COL FMT: min/median/max
	awk -v w="$1" -v c="$2" '$1 == w { print $c }' "$results" | sort -g | awk -v f="$3" '
		{ v[NR] = $1 }
		END { printf f "/" f "/" f, v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
}

printf '== before: %s\n' "$(uptime | sed 's/^ *//')"
r=1
while [ "$r" -le "$runs" ]; do
	for way in plain one three; do run_way "$way"; done
	r=$((r + 1))
done
printf '== after: %s\n' "$(uptime | sed 's/^ *//')"
printf '== %s tenants, %s runs per way in turn: min/median/max\n' "$n" "$runs"
printf '%-10s %-20s %-22s %-18s %s\n' way "wall s" "cpu/tenant ms" "pushes" fetches
for way in plain one three; do
	printf '%-10s %-20s %-22s %-18s %s\n' "$way" "$(stat "$way" 2 %.2f)" "$(stat "$way" 3 %.3f)" \
		"$(stat "$way" 4 %d)" "$(stat "$way" 5 %d)"
done
