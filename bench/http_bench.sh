#!/usr/bin/env bash
# The http driver benchmark of docs/benchmarks.md: N accounts behind the
# loopback fake account API (tests/servers/account_api.py) with L ms of
# latency per request, one wave of max_parallel P; `flotilla apply` creates
# everything. Prints the wall time against the Little's-law bound
# (requests x latency / parallelism) and the efficiency bound / wall; the
# target is at least 90%. Then two runs that show where the time goes: the
# same apply with no latency (what flotilla and the fake cost by
# themselves), and `flotilla plan` alone (the fleet-wide plan that apply
# makes before its first wave), each with its effective parallelism
# (requests x latency / wall).
# Usage: bench/http_bench.sh
#   HTTP_BENCH_TENANTS    accounts (default 1000)
#   HTTP_BENCH_LATENCY_MS latency per request (default 20)
#   HTTP_BENCH_PARALLEL   the wave's max_parallel (default 100)
#   HTTP_BENCH_RESOURCES  resources per tenant (default 3)
#   HTTP_BENCH_RUNS       timed runs (default 3; each on a fresh server)
#   FLOTILLA              the binary (default: a Release build in build-bench/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tenants=${HTTP_BENCH_TENANTS:-1000}
latency=${HTTP_BENCH_LATENCY_MS:-20}
parallel=${HTTP_BENCH_PARALLEL:-100}
resources=${HTTP_BENCH_RESOURCES:-3}
runs=${HTTP_BENCH_RUNS:-3}
server=$root/tests/servers/account_api.py

if [[ -z ${FLOTILLA:-} ]]; then
	echo "== build (Release) into $root/build-bench"
	cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release -DFL_TESTS=OFF >/dev/null
	cmake --build "$root/build-bench" -j "$(nproc 2>/dev/null || echo 2)" --target flotilla >/dev/null
	FLOTILLA=$root/build-bench/flotilla
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fl-http-bench.XXXXXX")
srv_pid=
cleanup() {
	[[ -z $srv_pid ]] || kill "$srv_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME=$work/home NO_COLOR=1
mkdir -p "$HOME"

# ---- the fleet: N tenants, one region each, R resources, one wave ----
fleet=$work/fleet
mkdir -p "$fleet/release" "$fleet/tenants"
cat >"$fleet/fleet.yaml" <<EOF
version: 1
name: http-bench
vars:
  title: { type: string, default: bench }
waves:
  - name: all
    select: rest
    max_parallel: $parallel
    failure_tolerance: $parallel   # strict mode keeps at most tolerance + 1 tenants in flight
driver: { type: dir, root: unused }
EOF
for ((r = 0; r < resources; r++)); do
	cat >>"$fleet/release/base.yaml" <<EOF
---
kind: service
name: svc$r
spec:
  image: "registry.example/svc$r:1.0.0"
  replicas: 3
  env: { TENANT: "{{tenant.name}}", ACCOUNT: "{{tenant.account}}", REGION: "{{region}}", TITLE: "{{vars.title}}" }
EOF
done
for ((i = 1; i <= tenants; i++)); do
	printf 'name: t%06d\naccount: "%012d"\nregions: [us-east-1]\n' "$i" $((500000000000 + i)) \
		>"$fleet/tenants/$(printf 't%06d' "$i").yaml"
done
git -C "$fleet" init -q -b main
git -C "$fleet" add -A
git -C "$fleet" -c user.name=bench -c user.email=bench@flotilla.invalid commit -q -m "http bench fleet"

# ---- one measured apply ----
start_server() { # LATENCY_MS
	: >"$work/server.out"
	python3 "$server" --latency-ms "$1" </dev/null >"$work/server.out" 2>"$work/server.err" &
	srv_pid=$!
	for _ in $(seq 200); do
		[[ -s $work/server.out ]] && break
		sleep 0.05
	done
	port=$(sed -n 's/^PORT //p' "$work/server.out")
	[[ -n $port ]] || { echo "the account API did not start: $(cat "$work/server.err")" >&2; exit 1; }
}

stop_server() {
	kill "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
}

# Runs flotilla COMMAND (apply or plan) against a fresh server; sets wall_s and requests.
measure() { # LATENCY_MS COMMAND
	start_server "$1"
	git -C "$fleet" update-ref -d refs/notes/flotilla 2>/dev/null || true
	local t0 t1 want=$tenants
	t0=$(date +%s.%N)
	"$FLOTILLA" "$2" --repo "$fleet" --driver "http:http://127.0.0.1:$port/v1/accounts/{{tenant.account}}" \
		>"$work/run.out" 2>&1 || { echo "$2 failed:" >&2; tail -20 "$work/run.out" >&2; exit 1; }
	t1=$(date +%s.%N)
	wall_s=$(echo "$t1 - $t0" | bc -l)
	[[ $2 == apply ]] || want=0
	local counts
	counts=$(curl -sS "http://127.0.0.1:$port/_state" | python3 -c '
import json, sys
d = json.load(sys.stdin)
n = sum(len(r["resources"]) for a in d["accounts"].values() for r in a["regions"].values())
assert len(d["accounts"]) == int(sys.argv[1]) and n == int(sys.argv[1]) * int(sys.argv[2]), "accounts not as expected"
print(d["requests"], d["latency_overshoot_ms"])' "$want" "$resources")
	read -r requests overshoot <<<"$counts"
	stop_server
}

# One line of the table: NAME, then from wall_s and requests: the bound,
# the efficiency and the effective parallelism.
report() { # NAME LATENCY_MS
	local bound=0 eff=- par=- late=-
	if (($2 > 0)); then
		late=$(printf '%.2f' "$overshoot")
		bound=$(echo "$requests * $2 / 1000 / $parallel" | bc -l)
		eff=$(printf '%.1f%%' "$(echo "100 * $bound / $wall_s" | bc -l)")
		par=$(printf '%.1f' "$(echo "$requests * $2 / 1000 / $wall_s" | bc -l)")
	fi
	printf '%-14s %9d %8.1f %8.2f %8.2f %7s %9s %8s\n' "$1" "$requests" \
		"$(echo "$requests / $tenants" | bc -l)" "$wall_s" "$bound" "$eff" "$par" "$late"
}

echo "== $tenants accounts x $resources resources, latency $latency ms, max_parallel $parallel, $(nproc) cores"
printf '%-14s %9s %8s %8s %8s %7s %9s %8s\n' run requests req/ten wall_s bound_s eff parallel late_ms
best=0 walls=()
for ((k = 1; k <= runs; k++)); do
	measure "$latency" apply
	report "apply #$k" "$latency"
	walls+=("$wall_s")
	eff=$(echo "100 * $requests * $latency / 1000 / $parallel / $wall_s" | bc -l)
	if (($(echo "$eff > $best" | bc -l))); then best=$eff; fi
done
measure 0 apply
report "apply, 0 ms" 0
printf '%-14s %s\n' "" "(no latency: $(printf '%.0f' "$(echo "$requests / $wall_s" | bc -l)") requests/s end to end)"
measure "$latency" plan
report "plan alone" "$latency"

# The capacity of docs/benchmarks.md: tenants one runner applies per minute.
median_wall=$(printf '%s\n' "${walls[@]}" | sort -g |
	awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
printf '== %.0f tenants per minute (median apply wall %.2f s, its fleet-wide plan included)\n' \
	"$(echo "$tenants * 60 / $median_wall" | bc -l)" "$median_wall"
verdict=FAIL
if (($(echo "$best >= 90" | bc -l))); then verdict=ok; fi
printf '== best efficiency %.1f%% (target >= 90%%): %s\n' "$best" "$verdict"
