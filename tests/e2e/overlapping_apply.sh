#!/usr/bin/env bash
# SPEC 4, concurrent runs: two `flotilla apply` runs on the same fleet and the
# same dir accounts at once (two CI jobs that overlap), for several revisions
# in a row. Both must end 0 every time, with no temporary file left in any
# account, and a final plan must find every account converged.
#
# The two runs walk the same tenants in the same order, so they write the
# same region files at nearly the same moments; a writer that removed the
# other's temporary file made that run fail a tenant with "cannot rename
# into .../<region>.state". One tenant also has a region named like another
# region's temporary file used to be (us-east-1.state.tmp.AbC123), which a
# write of us-east-1 used to delete.
source "$(dirname "$0")/lib.sh"

NTENANTS=${FL_OVERLAP_TENANTS:-40}
ROUNDS=${FL_OVERLAP_ROUNDS:-4}
regions=(us-east-1 us-west-2 eu-west-1 eu-central-1 ap-southeast-2)

fleet=$TMP/fleet
acc=$TMP/accounts
git_repo "$fleet"
mkdir -p "$fleet/tenants" "$fleet/release"
cat >"$fleet/fleet.yaml" <<'EOF'
version: 1
name: overlap
vars:
  seats: { type: integer, min: 1, default: 10 }
services: [api]
waves:
  - name: all
    select: rest
    max_parallel: 8
    failure_tolerance: 0
prune: false
guard: { max_delete_percent: 100 }
driver: { type: dir, root: accounts }
status:
  - { type: git-notes }
EOF
cat >"$fleet/release/00-base.yaml" <<'EOF'
kind: network
name: vpc
spec:
  cidr: 10.0.0.0/16
  region: "{{region}}"
  tags: { tenant: "{{tenant.name}}", account: "{{tenant.account}}" }
---
kind: bucket
name: uploads
spec:
  name: "{{tenant.name}}-uploads-{{region}}"
EOF

# api.yaml for round $1: a change to every tenant-region, so every round
# writes every region file again.
write_release() {
	cat >"$fleet/release/10-api.yaml" <<EOF
kind: service
name: api
service: api
spec:
  image: registry.example/api:1.$1.0
  seats: "{{vars.seats}}"
  region: "{{region}}"
EOF
}

# Every tenant in four regions; t000 also in the look-alike region, first,
# so that each write of its us-east-1 comes after it.
for ((i = 0; i < NTENANTS; i++)); do
	name=$(printf 't%03d' "$i")
	rs="${regions[i % 5]}, ${regions[(i + 1) % 5]}, ${regions[(i + 2) % 5]}, ${regions[(i + 3) % 5]}"
	((i == 0)) && rs="us-east-1.state.tmp.AbC123, $rs"
	{
		echo "name: $name"
		echo "account: \"2000000$(printf '%05d' "$i")\""
		echo "regions: [$rs]"
		echo "services: [api]"
		echo "vars: { seats: $((10 + i)) }"
	} >"$fleet/tenants/$name.yaml"
done
write_release 0
commit "$fleet" "a fleet of $NTENANTS tenants"
run_fl 0 validate --repo "$fleet"

# Two applies of HEAD at once; both must end 0.
for ((round = 1; round <= ROUNDS; round++)); do
	write_release "$round"
	commit "$fleet" "api 1.$round.0"
	rev=$(git -C "$fleet" rev-parse HEAD)
	"$FLOTILLA" apply --repo "$fleet" --driver "dir:$acc" >"$TMP/a.out" 2>"$TMP/a.err" &
	pid_a=$!
	"$FLOTILLA" apply --repo "$fleet" --driver "dir:$acc" >"$TMP/b.out" 2>"$TMP/b.err" &
	pid_b=$!
	code_a=0
	code_b=0
	wait "$pid_a" || code_a=$?
	wait "$pid_b" || code_b=$?
	for run in a b; do
		code_var=code_$run
		[[ ${!code_var} == 0 ]] || fail "round $round: apply $run exited ${!code_var}
--- stdout
$(cat "$TMP/$run.out")
--- stderr
$(cat "$TMP/$run.err")"
	done

	# Every region of every tenant carries this round's marker.
	for ((i = 0; i < NTENANTS; i++)); do
		dir=$acc/2000000$(printf '%05d' "$i")
		for state in "$dir"/*.state; do
			marker=$(marker_line "$state")
			[[ $marker == "marker $rev "* ]] ||
				fail "round $round: $state holds '$marker', not the marker of $rev"
		done
	done
	assert_file_exists "$acc/200000000000/us-east-1.state.tmp.AbC123.state"
	# No run left a temporary file behind (both ended without a crash).
	temps=$(find "$acc" -type f -name '*.tmp.*' ! -name '*.state' | LC_ALL=C sort)
	assert_eq "$temps" ""
done

run_fl 0 plan --repo "$fleet" --driver "dir:$acc" --refresh --detailed-exitcode
echo "overlapping_apply: $ROUNDS rounds of two applies on $NTENANTS tenants, all converged"
