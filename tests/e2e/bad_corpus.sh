#!/usr/bin/env bash
# Every fleet under fixtures/bad makes validate, plan and apply exit 1 with
# the exact positioned error in the case's `expected` file, never a crash,
# and apply writes nothing to the accounts.
source "$(dirname "$0")/lib.sh"

n=0
for case in "$FL_FIXTURES"/bad/*/; do
	name=$(basename "$case")
	repo="$TMP/$name"
	git_repo "$repo"
	(cd "$case" && tar --exclude=./expected -cf - .) | tar -xf - -C "$repo"
	commit "$repo" "$name"
	want=$(head -n 1 "$case/expected")
	for cmd in validate "plan --driver dir:$TMP/acc" "apply --driver dir:$TMP/acc"; do
		set +e
		# shellcheck disable=SC2086
		"$FLOTILLA" $cmd --repo "$repo" >"$OUT_FILE" 2>"$ERR_FILE"
		code=$?
		set -e
		[ "$code" = 1 ] || fail "$name: $cmd exited $code, expected 1; stderr: $(cat "$ERR_FILE")"
		got=$(head -n 1 "$ERR_FILE")
		[ "$got" = "$want" ] || fail "$name: $cmd printed
  $got
expected
  $want"
	done
	[ ! -e "$TMP/acc" ] || fail "$name: apply wrote to the accounts"
	n=$((n + 1))
done
[ "$n" -ge 30 ] || fail "the corpus has $n cases, fewer than 30"
echo "bad corpus: $n cases"
