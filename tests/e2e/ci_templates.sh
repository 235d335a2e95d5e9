#!/usr/bin/env bash
# The CI templates users copy (ci/templates): every flotilla invocation in
# them is checked against the real command line, and the loop's rules
# (triggers, permissions, concurrency, fork pull requests, the shards)
# against the workflows (ci_templates.py). The checker is shown to catch a
# broken template, and the GitHub apply job's own scripts are run for real,
# every shard of the matrix at once, against a fleet pushed to a bare
# "origin": a gate, a promotion tag, a halt.
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
broken command github-actions-aws.yml 's/flotilla apply --repo/flotilla aply --repo/' "'flotilla aply': no such command"
broken tags github-actions.yml "s|tags: \['flotilla/promote/\*\*'\]|tags: ['v*']|" "flotilla/promote/**"
broken schedule github-actions.yml "s|cron: '\*/10 \* \* \* \*'|cron: '0 3 * * *'|" "a schedule of 15 minutes or less"
broken push-perm github-actions.yml '0,/contents: read/s//contents: write/' "cannot push"
broken fork github-actions.yml '/--offline --format markdown/s/--offline //' "plan must be --offline"
broken fork-comment github-actions.yml '/--offline --format markdown/s/--format markdown/--format markdown --pr "$PR"/' "no comment for a fork"
broken injection github-actions.yml 's|--rev "$HEAD_SHA"|--rev "${{ github.event.pull_request.head.sha }}"|' "a \${{ }} expansion inside a script"
broken exit5 github-actions.yml 's/|| \[ "$code" = 5 \] //' "accept exit code 5"
broken container github-actions.yml '0,/container: debian:bookworm/s//container: ubuntu:24.04/' "must run in debian:bookworm"
broken pipefail github-actions-aws.yml '/shell: bash/d' "defaults.run.shell must be bash"
broken gitlab-tags gitlab-ci.yml '/CI_COMMIT_TAG/d' "CI_COMMIT_TAG"
broken gitlab-fork gitlab-ci.yml '/--offline --format markdown/s/--offline //' "planned --offline"
broken gitlab-group gitlab-ci.yml '/resource_group:/d' "resource_group"
# The shards (SPEC 4): N jobs at once, each with --shard K/N from the matrix.
broken job-concurrency github-actions.yml '/^    needs: rev$/a\    concurrency: { group: flotilla-apply, cancel-in-progress: false }' "no concurrency of its own"
broken job-concurrency-aws github-actions-aws.yml '/^    needs: rev$/a\    concurrency: flotilla-apply' "no concurrency of its own"
broken no-concurrency github-actions.yml '/^concurrency:$/,/^  cancel-in-progress/d' "the workflow needs a concurrency group"
broken concurrency github-actions.yml "s/|| 'flotilla-apply' }}/|| github.ref }}/" "one fixed group for every event but pull_request"
broken cancel github-actions-aws.yml '0,/cancel-in-progress: false/s//cancel-in-progress: true/' "never cancelled in progress"
broken pr-group github-actions.yml "s/format('flotilla-plan-{0}', github.event.pull_request.number)/'flotilla-pr'/" "must differ from the rollouts'"
broken no-shard github-actions.yml 's/ --shard "$SHARD"//' "--shard"
broken no-shard-aws github-actions-aws.yml 's/ --shard "$SHARD"//' "--shard"
broken shard-fixed github-actions.yml 's|SHARD: ${{ matrix.shard }}/${{ strategy.job-total }}|SHARD: 1/3|' "--shard"
broken shard-total github-actions.yml 's|SHARD: ${{ matrix.shard }}/${{ strategy.job-total }}|SHARD: ${{ matrix.shard }}/4|' "--shard"
broken matrix github-actions.yml 's/shard: \[1, 2, 3\]/shard: [1, 3]/' "a matrix of shards"
broken no-matrix github-actions-aws.yml '/shard: \[1, 2, 3\]/d' "a matrix of shards"
broken fail-fast github-actions.yml '/fail-fast: false/d' "fail-fast: false"
broken max-parallel github-actions.yml '/fail-fast: false/a\      max-parallel: 1' "max-parallel below N"
broken no-repo github-actions-aws.yml 's/flotilla apply --repo "$REPO_URL" /flotilla apply /' "--repo"
broken repo-other github-actions.yml 's|REPO_URL: ${{ github.server_url }}/${{ github.repository }}.git|REPO_URL: https://example.com/fleet.git|' "--repo"
broken git-push github-actions.yml '/^          code=\$?$/a\          git push origin "refs/notes/flotilla*:refs/notes/flotilla*"' "no git push"
broken git-token github-actions.yml '/FLOTILLA_GIT_TOKEN:/d' "FLOTILLA_GIT_TOKEN must be the job's token"
broken rev-moving github-actions.yml 's|REV: ${{ needs.rev.outputs.sha }}|REV: main|' "one commit for every shard"
broken rev-unneeded github-actions-aws.yml '/^    needs: rev$/d' "one commit for every shard"
broken gitlab-shard-group gitlab-ci.yml '/^  parallel: 3/a\  resource_group: flotilla' "no resource_group on the shards"
broken gitlab-parallel gitlab-ci.yml '/^  parallel: 3/d' "parallel: N"
broken no-shard-run github-actions.yml 's| --shard-run "$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"||' "--shard-run"
broken shard-run-id-only github-actions-aws.yml 's|--shard-run "$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"|--shard-run "$GITHUB_RUN_ID"|' "--shard-run"
broken gitlab-no-shard-run gitlab-ci.yml 's| --shard-run "$CI_PIPELINE_ID"||' "--shard-run"
broken gitlab-no-shard gitlab-ci.yml 's| --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"||' "--shard"
broken gitlab-shard-fixed gitlab-ci.yml 's|--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"|--shard "1/$CI_NODE_TOTAL"|' "--shard"
broken gitlab-no-repo gitlab-ci.yml 's|apply --repo "$FLOTILLA_REPO_URL" |apply |' "--repo"
broken gitlab-job-token gitlab-ci.yml 's/FLOTILLA_GIT_TOKEN: $FLOTILLA_PUSH_TOKEN/FLOTILLA_GIT_TOKEN: $CI_JOB_TOKEN/' "CI_JOB_TOKEN cannot push"
broken gitlab-git-push gitlab-ci.yml '/test "$code" = 0/i\    - git push origin "refs/notes/flotilla*:refs/notes/flotilla*"' "no git push"
broken gitlab-exit5 gitlab-ci.yml 's/ || test "$code" = 5//' "accept exit code 5"
broken gitlab-rev gitlab-ci.yml '/dotenv: rev.env/d' "one commit for every shard"
broken gitlab-child gitlab-ci.yml 's|include: .gitlab/flotilla.yml |include: .gitlab-ci.yml |' "trigger this file again"
broken gitlab-depend gitlab-ci.yml '/strategy: depend/d' "trigger this file again"
broken gitlab-recursion gitlab-ci.yml '0,/== "parent_pipeline"$/{/== "parent_pipeline"$/{N;d}}' "must not run in its own child pipeline"
broken gitlab-workflow gitlab-ci.yml '/"parent_pipeline"   # the shards/d' "parent_pipeline"
broken gitlab-shard-rules gitlab-ci.yml '/^flotilla-shard:/,/^  script:/{/parent_pipeline/s/"parent_pipeline"/"push"/}' "runs only in the child pipeline"

# ---- the apply jobs' scripts, run ---------------------------------------------------
# The fleet `flotilla init` makes: a canary wave with a verify command, a
# wave `early` behind a manual gate, the rest. origin is a bare repository.
# A run of the workflow is the rev job, then the N shard jobs of the matrix
# at once, each on a runner of its own: its own checkout (verify commands and
# the dir driver's accounts are relative to it) and its own flotilla cache.
"$FLOTILLA" init "$TMP/seed" >/dev/null
git clone -q --bare "$TMP/seed" "$TMP/origin.git"
step() {
	"$PY" "$CHECK" "$FLOTILLA" "$TEMPLATES" --print-step github-actions.yml "$1" "$2"
}
step rev "Main's newest commit" >"$TMP/rev.sh"
step apply "Roll out main's newest commit" >"$TMP/rollout.sh"
N=$("$PY" -c 'import sys, yaml
print(len(yaml.safe_load(open(sys.argv[1]))["jobs"]["apply"]["strategy"]["matrix"]["shard"]))' \
	"$TEMPLATES/github-actions.yml")
(( N > 1 )) || fail "the template's matrix has $N shard: this test wants several"
mkdir -p "$TMP/bin"
ln -s "$FLOTILLA" "$TMP/bin/flotilla"

# checkout DIR REV: what actions/checkout leaves in DIR, REV checked out.
checkout() {
	[[ -d $1 ]] || git clone -q "$TMP/origin.git" "$1"
	git -C "$1" fetch -q origin
	git -C "$1" checkout -q --detach "$2"
}
# run_step DIR SCRIPT: the step as GitHub runs it (bash -eo pipefail) in DIR;
# the caller's environment stands for the step's env:. A shard that never
# returns (a barrier waiting for nothing) fails within 5 minutes.
run_step() {
	(cd "$1" && PATH="$TMP/bin:$PATH" timeout 300 bash --noprofile --norc -eo pipefail "$2")
}
# workflow_run: the rev job, then the N shards at once. $REV is the commit
# the rev job read; SHARD_RC[K] is shard K's exit code, $TMP/shard-K.out its
# output, $SHARDS_OUT all of them.
RUN_ID=1000
workflow_run() {
	RUN_ID=$((RUN_ID + 1))
	checkout "$TMP/rev-job" origin/main
	: >"$TMP/rev-job.output"
	GITHUB_OUTPUT=$TMP/rev-job.output run_step "$TMP/rev-job" "$TMP/rev.sh" ||
		fail "the rev job's step failed"
	REV=$(sed -n 's/^sha=//p' "$TMP/rev-job.output")
	assert_eq "$REV" "$(git --git-dir="$TMP/origin.git" rev-parse main)"
	local pids=() k
	for ((k = 1; k <= N; k++)); do
		checkout "$TMP/shard-$k" "$REV"
		REPO_URL="file://$TMP/origin.git" REV=$REV SHARD="$k/$N" FLOTILLA_GIT_TOKEN=unused \
			GITHUB_RUN_ID=$RUN_ID GITHUB_RUN_ATTEMPT=1 \
			FLOTILLA_CACHE_DIR="$TMP/cache-$k" run_step "$TMP/shard-$k" "$TMP/rollout.sh" \
			>"$TMP/shard-$k.out" 2>&1 &
		pids+=("$!")
	done
	SHARDS_OUT=
	for ((k = 1; k <= N; k++)); do
		SHARD_RC[k]=0
		wait "${pids[k - 1]}" || SHARD_RC[k]=$?
		SHARDS_OUT+="---- shard $k/$N: exit ${SHARD_RC[k]}
$(cat "$TMP/shard-$k.out")
"
	done
}
# assert_shards CODE WHAT: every shard's step exited CODE.
assert_shards() {
	local k
	for ((k = 1; k <= N; k++)); do
		[[ ${SHARD_RC[k]} == "$1" ]] || fail "$2: shard $k/$N exited ${SHARD_RC[k]}, not $1:
$SHARDS_OUT"
	done
}
origin_note() {
	note "$TMP/origin.git" main
}

workflow_run
assert_shards 0 "a rollout waiting at the gate (flotilla exits 5) is not a failed job"
assert_contains "$SHARDS_OUT" "awaiting promotion"
note=$(origin_note) || fail "no shard pushed the note to origin"
assert_contains "$note" '"flotilla/wave/canary"'
assert_contains "$note" "awaiting promotion"

# A release manager promotes from their own clone and pushes the tag: the
# run the tag push starts resumes the rollout.
sha=$(git --git-dir="$TMP/origin.git" rev-parse main)
git clone -q "$TMP/origin.git" "$TMP/manager"
git -C "$TMP/manager" config user.name "release manager"
git -C "$TMP/manager" config user.email "rm@example.com"
run_fl 0 promote "$sha" --wave early --repo "$TMP/manager" -m "canary looks good"
git -C "$TMP/manager" push -q origin "refs/tags/flotilla/promote/early/$sha"
workflow_run
assert_shards 0 "the rollout after the promotion"
note=$(origin_note)
assert_json "$note" "every wave succeeded after the promotion, every tenant applied" \
	'w = {n: c["state"] for n, c in d["contexts"].items() if n.startswith("flotilla/wave/")}
assert len(w) == 3 and set(w.values()) == {"success"}, w
assert len(d["tenants"]) == 8, sorted(d["tenants"])'

# A commit whose canary verify fails: the rollout halts, and every shard's
# job fails with flotilla's 4.
git clone -q "$TMP/origin.git" "$TMP/dev"
git -C "$TMP/dev" config user.name "dev"
git -C "$TMP/dev" config user.email "dev@example.com"
printf '#!/bin/sh\necho "smoke test failed for $1" >&2\nexit 1\n' >"$TMP/dev/ci/smoke-test"
sed -i 's/default: 10 }/default: 11 }/' "$TMP/dev/fleet.yaml"
git -C "$TMP/dev" commit -qam "a release whose smoke test fails"
git -C "$TMP/dev" push -q origin main
workflow_run
assert_shards 4 "a halted rollout fails the job"
assert_contains "$(origin_note)" "halted"
