#!/usr/bin/env bash
# The CI templates users copy (ci/templates): every flotilla invocation in
# them is checked against the real command line, and the loop's rules
# (triggers, permissions, concurrency, fork pull requests) against the
# workflows (ci_templates.py). The checker is shown to catch a broken
# template, and the GitHub apply job's own scripts are run for real against
# a fleet pushed to a bare "origin": a gate, a promotion tag, a halt.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

: "${FL_SOURCE:?set FL_SOURCE to the source tree}"
TEMPLATES=$FL_SOURCE/ci/templates
CHECK=$FL_SOURCE/tests/e2e/ci_templates.py
PY=
for py in /usr/bin/python3 python3; do
	if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then
		PY=$py
		break
	fi
done
[[ -n $PY ]] || fail "no python3 here can import yaml: install python3-yaml (ci/setup.sh)"

# ---- the templates as shipped ------------------------------------------------------
out=$("$PY" "$CHECK" "$FLOTILLA" "$TEMPLATES" 2>&1) || fail "the templates have problems:
$out"
assert_contains "$out" "3 templates"
assert_contains "$out" "0 problems"

# ---- the checker fails on a broken template ----------------------------------------
# broken NAME FILE SED-EXPRESSION EXPECTED: the checker must refuse FILE changed by
# the expression, saying EXPECTED.
broken() {
	local dir="$TMP/broken-$1"
	mkdir -p "$dir"
	cp "$TEMPLATES"/*.yml "$dir/"
	sed -i "$3" "$dir/$2"
	cmp -s "$dir/$2" "$TEMPLATES/$2" && fail "broken $1: the expression changed nothing"
	local said
	if said=$("$PY" "$CHECK" "$FLOTILLA" "$dir" 2>&1); then
		fail "broken $1: the checker accepted it"
	fi
	assert_contains "$said" "$4"
}
broken option github-actions.yml 's/--since "$base"/--sinse "$base"/' "has no option --sinse"
broken value gitlab-ci.yml 's/--format markdown --pr "$CI_MERGE_REQUEST_IID"/--format markdown --pr/' "--pr needs a value"
broken command github-actions-aws.yml 's/flotilla apply --rev/flotilla aply --rev/' "'flotilla aply': no such command"
broken tags github-actions.yml "s|tags: \['flotilla/promote/\*\*'\]|tags: ['v*']|" "flotilla/promote/**"
broken schedule github-actions.yml "s|cron: '\*/10 \* \* \* \*'|cron: '0 3 * * *'|" "a schedule of 15 minutes or less"
broken push-perm github-actions.yml '0,/contents: read/s//contents: write/' "cannot push"
broken concurrency github-actions.yml 's/group: flotilla-apply .*/group: flotilla-${{ github.ref }}/' "one fixed concurrency group"
broken fork github-actions.yml '/--offline --format markdown/s/--offline //' "plan must be --offline"
broken fork-comment github-actions.yml '/--offline --format markdown/s/--format markdown/--format markdown --pr "$PR"/' "no comment for a fork"
broken injection github-actions.yml 's|--rev "$HEAD_SHA"|--rev "${{ github.event.pull_request.head.sha }}"|' "a \${{ }} expansion inside a script"
broken exit5 github-actions.yml 's/|| \[ "$code" = 5 \] //' "accept exit code 5"
broken container github-actions.yml '0,/container: debian:bookworm/s//container: ubuntu:24.04/' "must run in debian:bookworm"
broken pipefail github-actions-aws.yml '/shell: bash/d' "defaults.run.shell must be bash"
broken gitlab-tags gitlab-ci.yml '/CI_COMMIT_TAG/d' "CI_COMMIT_TAG"
broken gitlab-fork gitlab-ci.yml '/--offline --format markdown/s/--offline //' "planned --offline"
broken gitlab-group gitlab-ci.yml '/resource_group:/d' "resource_group"

# ---- the apply job's scripts, run ----------------------------------------------------
# The fleet `flotilla init` makes: a canary wave with a verify command, a
# wave `early` behind a manual gate, the rest. origin is a bare repository.
"$FLOTILLA" init "$TMP/seed" >/dev/null
git clone -q --bare "$TMP/seed" "$TMP/origin.git"
git clone -q "$TMP/origin.git" "$TMP/runner"
git -C "$TMP/runner" config user.name "ci runner"
git -C "$TMP/runner" config user.email "ci@example.com"
step() {
	"$PY" "$CHECK" "$FLOTILLA" "$TEMPLATES" --print-step github-actions.yml apply "$1"
}
step "Fetch statuses and promotions" >"$TMP/fetch.sh"
step "Roll out main's newest commit" >"$TMP/rollout.sh"
mkdir -p "$TMP/bin"
ln -s "$FLOTILLA" "$TMP/bin/flotilla"
# run_step SCRIPT: the step as GitHub runs it (bash -eo pipefail) in the checkout
# (actions/checkout with fetch-depth 0 fetches every branch first); $STEP_RC is
# its exit code.
run_step() {
	git -C "$TMP/runner" fetch -q origin
	set +e
	(cd "$TMP/runner" && PATH="$TMP/bin:$PATH" bash --noprofile --norc -eo pipefail "$1") \
		>"$TMP/step.out" 2>&1
	STEP_RC=$?
	set -e
}
origin_note() {
	note "$TMP/origin.git" main
}

run_step "$TMP/fetch.sh"
assert_eq "$STEP_RC" 0 "the fetch step with no note yet"
run_step "$TMP/rollout.sh"
assert_eq "$STEP_RC" 0 "a rollout waiting at the gate (flotilla exits 5) is not a failed job: $(cat "$TMP/step.out")"
assert_contains "$TMP/step.out" "awaiting promotion"
note=$(origin_note) || fail "the rollout step did not push the note to origin"
assert_contains "$note" '"flotilla/wave/canary"'
assert_contains "$note" "awaiting promotion"

# A release manager promotes from their own clone and pushes the tag: the
# job the tag push starts resumes the rollout.
sha=$(git --git-dir="$TMP/origin.git" rev-parse main)
git clone -q "$TMP/origin.git" "$TMP/manager"
git -C "$TMP/manager" config user.name "release manager"
git -C "$TMP/manager" config user.email "rm@example.com"
run_fl 0 promote "$sha" --wave early --repo "$TMP/manager" -m "canary looks good"
git -C "$TMP/manager" push -q origin "refs/tags/flotilla/promote/early/$sha"
run_step "$TMP/fetch.sh"
assert_eq "$STEP_RC" 0 "the fetch step"
run_step "$TMP/rollout.sh"
assert_eq "$STEP_RC" 0 "the rollout after the promotion: $(cat "$TMP/step.out")"
note=$(origin_note)
assert_json "$note" "every wave succeeded after the promotion" \
	'w = {n: c["state"] for n, c in d["contexts"].items() if n.startswith("flotilla/wave/")}
assert len(w) == 3 and set(w.values()) == {"success"}, w'

# A commit whose canary verify fails: flotilla exits 4 and so does the job.
git clone -q "$TMP/origin.git" "$TMP/dev"
git -C "$TMP/dev" config user.name "dev"
git -C "$TMP/dev" config user.email "dev@example.com"
printf '#!/bin/sh\necho "smoke test failed for $1" >&2\nexit 1\n' >"$TMP/dev/ci/smoke-test"
sed -i 's/default: 10 }/default: 11 }/' "$TMP/dev/fleet.yaml"
git -C "$TMP/dev" commit -qam "a release whose smoke test fails"
git -C "$TMP/dev" push -q origin main
run_step "$TMP/fetch.sh"
run_step "$TMP/rollout.sh"
assert_eq "$STEP_RC" 4 "a halted rollout fails the job: $(cat "$TMP/step.out")"
assert_contains "$(origin_note)" "halted"
