#!/usr/bin/env bash
# Every fleet under fixtures/good plans to exactly the output its case
# directory holds: expected.txt (`flotilla plan`), expected.json
# (`--format json`) and expected.md (`--format markdown`), byte for byte.
#
# A case directory holds a fleet (fleet.yaml, release/, tenants/, whose
# driver is `{type: dir, root: accounts}`), and optionally:
#   accounts/  the dir driver's state before the plan (docs/drivers.md);
#              without it, every account is new
#   args       more arguments for plan, on one line (like --refresh)
#   exit       the exit status plan must end with (default 0)
#   secrets    values that must never appear in any output, one a line (the
#              values of the fleet's secret vars): a check that holds even
#              when the expected files are written anew
# Everything else is committed, as one commit, to a fresh repository in a
# scratch directory; plan runs there with the case's accounts beside it.
#
# Normalised before comparing, as they change from run to run: the id of
# that commit, written <REVISION>, and the scratch directory, written <TMP>.
# Nothing else is.
#
# FL_UPDATE_EXPECTED=1 writes the expected files from what plan prints
# instead of comparing (then review them with git diff).
source "$(dirname "$0")/lib.sh"

: "${FL_UPDATE_EXPECTED:=}"

# plan_case CASE WORK FORMAT EXT: run plan in WORK and compare with CASE/expected.EXT.
plan_case() {
	local case=$1 work=$2 format=$3 ext=$4 name what code want=0 rev secret args=()
	name=$(basename "$case")
	[[ ! -f $case/args ]] || read -r -a args <"$case/args"
	[[ ! -f $case/exit ]] || want=$(cat "$case/exit")
	[[ $format = text ]] || args+=(--format "$format")
	what="plan${args[*]:+ ${args[*]}}"
	code=0
	(cd "$work" && "$FLOTILLA" plan --repo repo "${args[@]}") >"$work/out.raw" 2>"$work/err" || code=$?
	[[ $code = "$want" ]] || fail "$name: $what exited $code, expected $want; stderr: $(cat "$work/err")"
	[[ ! -s $work/err ]] || fail "$name: $what wrote to stderr: $(cat "$work/err")"
	if [[ -f $case/secrets ]]; then
		while IFS= read -r secret; do
			[[ -z $secret ]] || ! grep -qF -- "$secret" "$work/out.raw" ||
				fail "$name: $what shows the secret '$secret'"
		done <"$case/secrets"
	fi
	[[ $format != json ]] || python3 -m json.tool "$work/out.raw" >/dev/null || fail "$name: $what is not JSON"
	rev=$(git -C "$work/repo" rev-parse HEAD)
	sed -e "s/$rev/<REVISION>/g" -e "s|$work|<TMP>|g" "$work/out.raw" >"$work/out"
	if [[ -n $FL_UPDATE_EXPECTED ]]; then
		cp "$work/out" "$case/expected.$ext"
		return
	fi
	[[ -f $case/expected.$ext ]] || fail "$name: no expected.$ext (make it with FL_UPDATE_EXPECTED=1)"
	cmp -s "$work/out" "$case/expected.$ext" || fail "$name: $what differs from expected.$ext:
$(diff -u "$case/expected.$ext" "$work/out" | head -n 60)"
}

n=0
for case in "$FL_FIXTURES"/good/*/; do
	case=${case%/}
	name=$(basename "$case")
	work="$TMP/$name"
	git_repo "$work/repo"
	(cd "$case" && tar --exclude=./accounts --exclude='./expected.*' --exclude=./args --exclude=./exit --exclude=./secrets -cf - .) |
		tar -xf - -C "$work/repo"
	commit "$work/repo" "$name"
	[[ ! -d $case/accounts ]] || cp -R "$case/accounts" "$work/accounts"
	before=$(tree_sum "$work/accounts")
	plan_case "$case" "$work" text txt
	plan_case "$case" "$work" json json
	plan_case "$case" "$work" markdown md
	[[ $(tree_sum "$work/accounts") = "$before" ]] || fail "$name: plan wrote to the accounts"
	n=$((n + 1))
done
[[ $n -ge 8 ]] || fail "the corpus has $n cases, fewer than 8"
if [[ -n $FL_UPDATE_EXPECTED ]]; then
	echo "good corpus: wrote the expected files of $n cases"
else
	echo "good corpus: $n cases"
fi
