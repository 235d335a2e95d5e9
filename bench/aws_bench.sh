#!/usr/bin/env bash
# The aws driver benchmark of docs/benchmarks.md: N accounts on the AWS
# stand-in (tests/servers/aws_standin.py: every request signed and checked
# with botocore) with L ms of latency per request and P polls per Cloud
# Control operation, one wave of max_parallel M; `flotilla apply` assumes a
# role per account, checks its identity and creates R resources and the
# state parameter in each. Prints the wall time against the Little's-law
# bound (requests x latency / max_parallel) and the efficiency bound / wall
# (target: at least 85%), then where a tenant's time goes: its requests, the
# waits between polls, and the rest.
# Usage: bench/aws_bench.sh
#   AWS_BENCH_TENANTS    accounts (default 1000)
#   AWS_BENCH_LATENCY_MS latency per request (default 50)
#   AWS_BENCH_POLLS      status polls per operation (default 2)
#   AWS_BENCH_PARALLEL   the wave's max_parallel (default 50)
#   AWS_BENCH_RUNS       timed runs (default 3; each on a fresh stand-in)
#   AWS_BENCH_RETRY_AFTER_MS  the RetryAfter the stand-in puts in its events
#                        (default 0: "ask again now"; empty: none, so flotilla
#                        backs off by itself: 100 ms, then doubling)
#   FLOTILLA             the binary (default: a Release build in build-bench/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tenants=${AWS_BENCH_TENANTS:-1000}
latency=${AWS_BENCH_LATENCY_MS:-50}
polls=${AWS_BENCH_POLLS:-2}
parallel=${AWS_BENCH_PARALLEL:-50}
runs=${AWS_BENCH_RUNS:-3}
retry_after=${AWS_BENCH_RETRY_AFTER_MS-0}
standin=$root/tests/servers/aws_standin.py

if [[ -z ${FLOTILLA:-} ]]; then
	echo "== build (Release) into $root/build-bench"
	cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release -DFL_TESTS=OFF >/dev/null
	cmake --build "$root/build-bench" -j "$(nproc 2>/dev/null || echo 2)" --target flotilla >/dev/null
	FLOTILLA=$root/build-bench/flotilla
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fl-aws-bench.XXXXXX")
srv_pid=
cleanup() {
	[[ -z $srv_pid ]] || kill "$srv_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME=$work/home NO_COLOR=1
mkdir -p "$HOME"
unset AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_SESSION_TOKEN AWS_PROFILE
export AWS_ACCESS_KEY_ID=AKIDSTANDINBASE AWS_SECRET_ACCESS_KEY=standin-base-secret
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

# ---- the fleet: N tenants, one region each, two resources, one wave ----
fleet=$work/fleet
mkdir -p "$fleet/release" "$fleet/tenants"
cat >"$fleet/fleet.yaml" <<EOF
version: 1
name: aws-bench
vars:
  title: { type: string, default: bench }
waves:
  - name: all
    select: rest
    max_parallel: $parallel
    failure_tolerance: $parallel   # strict mode keeps at most tolerance + 1 tenants in flight
driver: { type: aws, role: "arn:aws:iam::{{tenant.account}}:role/flotilla-deploy", poll_interval: 0s }
EOF
cat >"$fleet/release/app.yaml" <<'EOF'
kind: AWS::SSM::Parameter
name: config
spec: { Name: "/app/{{tenant.name}}/config", Type: String, Value: "{{vars.title}} {{tenant.name}}" }
---
kind: AWS::SQS::Queue
name: jobs
spec: { QueueName: "{{tenant.name}}-jobs", VisibilityTimeout: 60 }
EOF
for ((i = 1; i <= tenants; i++)); do
	printf 'name: t%06d\naccount: "%012d"\nregions: [us-east-1]\n' "$i" $((500000000000 + i)) \
		>"$fleet/tenants/$(printf 't%06d' "$i").yaml"
done
git -C "$fleet" init -q -b main
git -C "$fleet" add -A
git -C "$fleet" -c user.name=bench -c user.email=bench@flotilla.invalid commit -q -m "aws bench fleet"

start_standin() { # LATENCY_MS
	local config
	config=$(printf '{"latency_ms": %d, "polls": %d%s}' "$1" "$polls" \
		"${retry_after:+, \"retry_after_ms\": $retry_after}")
	: >"$work/standin.out"
	# The stand-in ends when its standard input closes: a pipe held open until stop_standin.
	rm -f "$work/standin.in"
	mkfifo "$work/standin.in"
	exec 9<>"$work/standin.in"
	python3 "$standin" --config "$config" <&9 >"$work/standin.out" 2>"$work/standin.err" &
	srv_pid=$!
	for _ in $(seq 200); do
		[[ -s $work/standin.out ]] && break
		sleep 0.05
	done
	port=$(sed -n 's/^PORT //p' "$work/standin.out")
	[[ -n $port ]] || { echo "the stand-in did not start: $(cat "$work/standin.err")" >&2; exit 1; }
	export AWS_ENDPOINT_URL=http://127.0.0.1:$port
}

stop_standin() {
	exec 9>&-
	kill "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
}

# Runs flotilla COMMAND against a fresh stand-in; sets wall_s, requests, ops, polls_made.
measure() { # LATENCY_MS COMMAND
	start_standin "$1"
	git -C "$fleet" update-ref -d refs/notes/flotilla 2>/dev/null || true
	local t0 t1 want=$tenants counts
	t0=$(date +%s.%N)
	"$FLOTILLA" "$2" --repo "$fleet" >"$work/run.out" 2>&1 ||
		{ echo "$2 failed:" >&2; tail -20 "$work/run.out" >&2; exit 1; }
	t1=$(date +%s.%N)
	wall_s=$(echo "$t1 - $t0" | bc -l)
	[[ $2 == apply ]] || want=0
	counts=$(curl -sS "$AWS_ENDPOINT_URL/_state" | python3 -c '
import json, sys
d = json.load(sys.stdin)
n = sum(len(ids) for a in d["accounts"].values() for r in a.values() for ids in r.values())
assert n == 3 * int(sys.argv[1]), "accounts not as expected: %d, %d resources" % (len(d["accounts"]), n)
c = d["counts"]
ops = sum(v for k, v in c.items() if k.split(".")[-1] in ("CreateResource", "UpdateResource", "DeleteResource"))
print(sum(c.values()), ops, c.get("cloudcontrol.GetResourceRequestStatus", 0))' "$want")
	read -r requests ops polls_made <<<"$counts"
	stop_standin
}

report() { # NAME LATENCY_MS
	local bound=0 eff=- par=-
	if (($2 > 0)); then
		bound=$(echo "$requests * $2 / 1000 / $parallel" | bc -l)
		eff=$(printf '%.1f%%' "$(echo "100 * $bound / $wall_s" | bc -l)")
		par=$(printf '%.1f' "$(echo "$requests * $2 / 1000 / $wall_s" | bc -l)")
	fi
	printf '%-14s %9d %8.1f %6.1f %8.2f %8.2f %7s %9s\n' "$1" "$requests" \
		"$(echo "$requests / $tenants" | bc -l)" "$(echo "$polls_made / ($ops + 0.000001)" | bc -l)" \
		"$wall_s" "$bound" "$eff" "$par"
}

echo "== $tenants accounts x 2 resources, latency $latency ms, $polls polls per operation," \
	"RetryAfter ${retry_after:-none}${retry_after:+ ms}, max_parallel $parallel, $(nproc) cores"
printf '%-14s %9s %8s %6s %8s %8s %7s %9s\n' run requests req/ten polls wall_s bound_s eff parallel
best=0 walls=()
for ((k = 1; k <= runs; k++)); do
	measure "$latency" apply
	report "apply #$k" "$latency"
	walls+=("$wall_s")
	eff=$(echo "100 * $requests * $latency / 1000 / $parallel / $wall_s" | bc -l)
	if (($(echo "$eff > $best" | bc -l))); then best=$eff; fi
	tenant_s=$(echo "$wall_s * $parallel / $tenants" | bc -l)
	req_s=$(echo "$requests * $latency / 1000 / $tenants" | bc -l)
done
printf '%-14s %s\n' "" "a tenant: $(printf '%.0f' "$(echo "$tenant_s * 1000" | bc -l)") ms in all, $(printf '%.0f' "$(echo "$req_s * 1000" | bc -l)") ms of it waiting on its requests"
measure 0 apply
report "apply, 0 ms" 0
printf '%-14s %s\n' "" "(no latency: $(printf '%.0f' "$(echo "$requests / $wall_s" | bc -l)") requests/s end to end, stand-in included)"

measure "$latency" plan
report "plan alone" "$latency"
printf '%-14s %s\n' "" "(the fleet-wide plan apply makes before its first wave, io-bound: many tenants at once)"

# The capacity of docs/benchmarks.md: tenants one runner applies per minute.
median_wall=$(printf '%s\n' "${walls[@]}" | sort -g |
	awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
printf '== %.0f tenants per minute (median apply wall %.2f s, its fleet-wide plan included)\n' \
	"$(echo "$tenants * 60 / $median_wall" | bc -l)" "$median_wall"
verdict=FAIL
if (($(echo "$best >= 85" | bc -l))); then verdict=ok; fi
printf '== best efficiency %.1f%% (target >= 85%%): %s\n' "$best" "$verdict"
