#!/usr/bin/env bash
# Helpers for the end-to-end tests: each tests/e2e/<name>.sh drives the real
# flotilla binary against real git repositories and sources this file. CTest
# runs every tests/e2e/*.sh, and this file alone as e2e/lib (its helpers'
# own checks, at the end), with:
#   FLOTILLA    the binary under test
#   FL_FIXTURES the fixtures/ directory
#   FL_SOURCE   the source tree
# A test looks like:
#
#   #!/usr/bin/env bash
#   source "$(dirname "$0")/lib.sh"
#   git_repo "$TMP/fleet"
#   cp -r "$FL_FIXTURES/basic/." "$TMP/fleet"
#   commit "$TMP/fleet" "initial fleet"
#   run_fl 0 validate --repo "$TMP/fleet"
#   assert_contains "$OUT" "ok"
#
# Every test gets a fresh scratch directory $TMP, removed when it exits.
# After run_fl, $OUT and $ERR hold the command's standard output and error;
# $OUT_FILE and $ERR_FILE are the same, as files. The assert_* helpers take
# either text or a path to a file (an argument containing '/' that names an
# existing file is read). The first failed check prints "FAIL: <test>: <why>"
# and exits 1. Run one test by hand with
#   FLOTILLA=$PWD/build/flotilla FL_FIXTURES=$PWD/fixtures FL_SOURCE=$PWD \
#       bash tests/e2e/version.sh
# CTest's glob picks up this file too: run directly, it tests its own helpers
# (see the end of the file).

set -euo pipefail

: "${FLOTILLA:?set FLOTILLA to the flotilla binary}"
: "${FL_FIXTURES:=}"
: "${FL_SOURCE:=}"

TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fl-e2e-$TEST_NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

OUT=
ERR=
OUT_FILE="$TMP/.out"
ERR_FILE="$TMP/.err"

# Keep the user's git configuration and the terminal out of the tests.
export GIT_CONFIG_NOSYSTEM=1
export HOME="$TMP/.home"
export NO_COLOR=1
mkdir -p "$HOME"

# fail MSG: report the failure and end the test.
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

# git_repo DIR: a new repository on branch main, with an author configured.
git_repo() {
	mkdir -p "$1"
	git init -q -b main "$1"
	git -C "$1" config user.name "flotilla tests"
	git -C "$1" config user.email "tests@flotilla.invalid"
}

# commit DIR MSG: commit everything in the working tree.
commit() {
	git -C "$1" add -A
	git -C "$1" commit -q -m "$2"
}

# run_fl EXPECTED_EXIT ARGS...: run flotilla, capture its output into
# $OUT/$ERR (and $OUT_FILE/$ERR_FILE), fail if it exits otherwise.
run_fl() {
	local want=$1 got=0
	shift
	"$FLOTILLA" "$@" >"$OUT_FILE" 2>"$ERR_FILE" || got=$?
	OUT=$(cat "$OUT_FILE")
	ERR=$(cat "$ERR_FILE")
	if [[ $got != "$want" ]]; then
		fail "flotilla $* exited $got, expected $want
--- stdout
$OUT
--- stderr
$ERR"
	fi
}

# _text FILE_OR_TEXT: a file's contents if it names one, else the text itself.
_text() {
	if [[ $1 == */* && $1 != *$'\n'* && -f $1 ]]; then
		cat -- "$1"
	else
		printf '%s' "$1"
	fi
}

# assert_contains FILE_OR_TEXT TEXT: TEXT occurs (as a fixed string).
assert_contains() {
	local hay
	hay=$(_text "$1")
	[[ $hay == *"$2"* ]] || fail "expected to find '$2' in:
$hay"
}

# assert_not_contains FILE_OR_TEXT TEXT: TEXT does not occur.
assert_not_contains() {
	local hay
	hay=$(_text "$1")
	[[ $hay != *"$2"* ]] || fail "did not expect '$2' in:
$hay"
}

# assert_matches FILE_OR_TEXT REGEX: some line matches the extended REGEX.
# Not grep -q: it exits at the first match, and bash writes the text a line
# at a time, so a write after it gets SIGPIPE and pipefail fails the check.
assert_matches() {
	_text "$1" | grep -E -- "$2" >/dev/null || fail "expected a line matching /$2/ in:
$(_text "$1")"
}

# assert_eq ACTUAL EXPECTED [WHAT]: WHAT names the value in the failure.
assert_eq() {
	[[ $1 == "$2" ]] || fail "${3:+$3: }expected '$2', got '$1'"
}

# shard_remote: what the sharding tests (shard.sh, shard_rules.sh) coordinate
# through: tests/servers/git_http_server.py over $TMP/srv with the token
# s3cret, which FLOTILLA_GIT_TOKEN carries (caches under $TMP, no SSH key).
# Sets URL to its fleet.git, which publish_fleet fills.
shard_remote() {
	export FLOTILLA_CACHE_DIR=$TMP/cache FLOTILLA_GIT_TOKEN=s3cret
	unset FLOTILLA_SSH_KEY
	start_test_server PORT git_http_server.py --root "$TMP/srv" --token s3cret
	URL=http://127.0.0.1:$PORT/fleet.git
}

# publish_fleet DIR: DIR's repository, cloned bare as shard_remote's fleet.git.
publish_fleet() {
	mkdir -p "$TMP/srv"
	git clone -q --bare "$1" "$TMP/srv/fleet.git"
}

# shard_tenant DIR NAME ACCOUNT EXTRA: DIR/tenants/NAME.yaml, in eu-west-1
# with the service app, and the manifest lines EXTRA.
shard_tenant() {
	printf 'name: %s\naccount: "%s"\nregions: [eu-west-1]\nservices: [app]\n%s\n' "$2" "$3" "$4" \
		>"$1/tenants/$2.yaml"
}

# run_shards OUTDIR URL ACCOUNTS ARGS...: `apply --repo URL --driver
# dir:ACCOUNTS --shard K/3 ARGS...` for K = 1, 2 and 3 at once, each with
# its own cache (three CI runners); OUTDIR/K.out, K.err and K.rc hold
# what each printed and its exit status.
run_shards() {
	local dir=$1 url=$2 accounts=$3 k pids=()
	shift 3
	mkdir -p "$dir"
	for k in 1 2 3; do
		(
			set +e
			FLOTILLA_CACHE_DIR=$TMP/cache-$k "$FLOTILLA" apply --repo "$url" --driver "dir:$accounts" \
				--shard "$k/3" "$@" >"$dir/$k.out" 2>"$dir/$k.err"
			echo $? >"$dir/$k.rc"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# assert_file_exists PATH
assert_file_exists() {
	[[ -e $1 ]] || fail "expected $1 to exist"
}

# assert_json FILE_OR_TEXT WHAT PYTHON: parses the JSON document and runs the
# Python statements with it bound to d (json and re are imported); a failed
# assert (or any exception) fails the test with WHAT, Python's message and
# the document. Example:
#   assert_json "$OUT_FILE" "apply --format json: outcome done" 'assert d["outcome"] == "done", d["outcome"]'
assert_json() {
	local doc msg
	doc=$(_text "$1")
	msg=$(printf '%s' "$doc" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
try:
    exec(sys.argv[1], {"d": d, "json": json, "re": re})
except AssertionError as e:
    print("assertion failed: %s" % (e,))
    sys.exit(1)
' "$3" 2>&1) || fail "$2
$msg
--- document
$doc"
}

# note REPO REV: the ledger flotilla wrote on the commit as one document
# (nothing if none): the head note (refs/notes/flotilla) with the tenants of
# the tenants note (refs/notes/flotilla-tenants) put in, as read by git.
note() {
	local rev head tenants
	rev=$(git -C "$1" rev-parse "$2")
	head=$(git -C "$1" notes --ref=flotilla show "$rev" 2>/dev/null) || true
	tenants=$(git -C "$1" notes --ref=flotilla-tenants show "$rev" 2>/dev/null) || true
	if [[ -z $tenants ]]; then
		[[ -z $head ]] || printf '%s\n' "$head"
		return 0
	fi
	python3 -c '
import json, sys
head = json.loads(sys.argv[1]) if sys.argv[1] else {}
tenants = json.loads(sys.argv[2])
assert tenants.get("format") == 2 and tenants.get("revision") == sys.argv[3], "tenants note of another commit or format"
head["tenants"] = tenants.get("tenants", {})
print(json.dumps(head, indent=2, sort_keys=True))
' "$head" "$tenants" "$rev"
}

# assert_note REPO REV WHAT PYTHON: assert_json on the note of REV; fails if
# there is no note.
assert_note() {
	local text
	text=$(note "$1" "$2")
	[[ -n $text ]] || fail "$3: no note under refs/notes/flotilla on $2"
	assert_json "$text" "$3" "$4"
}

# tree_sum DIR: a checksum of every file under DIR, with its path, to compare
# a directory byte for byte before and after a command ("-" when DIR is missing).
tree_sum() {
	if [[ ! -d $1 ]]; then
		echo -
		return
	fi
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# marker_line STATE_FILE: the marker line (line 2) of a dir driver state file.
marker_line() {
	sed -n 2p "$1"
}

# Run directly (CTest does, as e2e/lib), check the helpers themselves.
# start_aws_standin ARGS...: starts tests/servers/aws_standin.py with ARGS
# under a python3 that has botocore (Debian's /usr/bin/python3 first) and
# sets AWS_STANDIN to its URL and STANDIN_PY to that python3. It ends with
# the test: its standard input is a pipe the test holds open on fd 9.
start_aws_standin() {
	STANDIN_PY=
	local py port
	for py in /usr/bin/python3 python3; do
		if command -v "$py" >/dev/null && "$py" -c 'import botocore.auth' 2>/dev/null; then
			STANDIN_PY=$(command -v "$py")
			break
		fi
	done
	[[ -n $STANDIN_PY ]] || fail "no python3 here can import botocore (tried /usr/bin/python3 and python3): install python3-botocore (ci/setup.sh)"
	mkfifo "$TMP/standin.in"
	exec 9<>"$TMP/standin.in"
	"$STANDIN_PY" "$FL_SOURCE/tests/servers/aws_standin.py" "$@" <&9 >"$TMP/standin.out" 2>"$TMP/standin.err" &
	for _ in $(seq 200); do
		[[ -s $TMP/standin.out ]] && break
		sleep 0.05
	done
	port=$(sed -n 's/^PORT //p' "$TMP/standin.out")
	[[ -n $port ]] || fail "the AWS stand-in did not start: $(cat "$TMP/standin.err")"
	AWS_STANDIN=http://127.0.0.1:$port
}

# standin_aws_env [keys]: flotilla's AWS environment points at the stand-in,
# and nothing of the machine's AWS set-up is read. With "keys", the base
# credentials are the stand-in's long-term keys; without, the test sets its own.
standin_aws_env() {
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
		AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
	export AWS_ENDPOINT_URL=$AWS_STANDIN AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	export AWS_SHARED_CREDENTIALS_FILE=$TMP/none AWS_CONFIG_FILE=$TMP/none
	if [[ ${1:-} == keys ]]; then
		export AWS_ACCESS_KEY_ID=AKIDSTANDINBASE AWS_SECRET_ACCESS_KEY=standin-base-secret
	fi
}

# standin_config JSON: replaces those keys of the stand-in's configuration.
standin_config() {
	curl -sS -f -X POST --data "$1" "$AWS_STANDIN/_config" >/dev/null || fail "configuring the AWS stand-in: $1"
}

# start_test_server VAR SCRIPT ARGS...: starts tests/servers/SCRIPT with ARGS
# (it prints "PORT <n>" first) and sets VAR to its port. It is stopped when
# the test exits.
TEST_SERVER_PIDS=()
start_test_server() {
	local var=$1 script=$2 out
	shift 2
	out=$(mktemp "$TMP/server.XXXXXX")
	python3 "$FL_SOURCE/tests/servers/$script" "$@" >"$out" 2>"$out.err" &
	TEST_SERVER_PIDS+=($!)
	trap 'kill "${TEST_SERVER_PIDS[@]}" 2>/dev/null || true; rm -rf "$TMP"' EXIT
	for _ in $(seq 200); do
		[[ -s $out ]] && break
		sleep 0.05
	done
	[[ $(head -1 "$out") =~ ^PORT\ ([0-9]+)$ ]] || fail "$script did not start: $(cat "$out.err")"
	printf -v "$var" '%s' "${BASH_REMATCH[1]}"
}

# start_fake_webhook VAR ARGS...: tests/servers/fake_webhook.py (--slack PATH,
# --token T, ...); GET /_messages and /_stats tell what it took.
start_fake_webhook() {
	start_test_server "$1" fake_webhook.py "${@:2}"
}

# start_fake_forge VAR ARGS...: tests/servers/fake_forge.py (--kind K, --token T,
# --repo R, ...); GET /_statuses, /_comments and /_stats tell what it took.
start_fake_forge() {
	start_test_server "$1" fake_forge.py "${@:2}"
}

# help_commands: every command `flotilla --help` lists, one a line; one whose
# --help lists "Commands:" (account) stands for its subcommands ("account create").
help_commands() {
	local name sub list='/^Commands:$/ { c = 1; next } c && NF == 0 { exit } c { print $1 }'
	for name in $("$FLOTILLA" --help | awk "$list"); do
		if "$FLOTILLA" "$name" --help | grep -qx 'Commands:'; then
			for sub in $("$FLOTILLA" "$name" --help | awk "$list"); do
				echo "$name $sub"
			done
		else
			echo "$name"
		fi
	done
}

# help_options CMD: every option `flotilla CMD --help` lists (CMD may be two
# words), each spelling on a line of its own: "-t", "--tenant", ... "--help".
help_options() {
	# shellcheck disable=SC2086 # CMD is one or two words
	"$FLOTILLA" $1 --help | grep -oE '^  (-[A-Za-z], )?--[a-z0-9-]+' | tr -d ' ' | tr ',' '\n'
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	git_repo "$TMP/repo"
	echo "hello" >"$TMP/repo/file"
	commit "$TMP/repo" "first"
	assert_eq "$(git -C "$TMP/repo" rev-parse --abbrev-ref HEAD)" main
	assert_eq "$(git -C "$TMP/repo" log --format=%s)" first
	assert_file_exists "$TMP/repo/file"
	assert_contains "$TMP/repo/file" "ell"
	assert_not_contains "$TMP/repo/file" "bye"
	assert_contains "one two" "two"
	assert_matches "a
b12" '^b[0-9]+$'
	(fail "expected") 2>/dev/null && { echo "FAIL: lib: fail did not fail" >&2; exit 1; }
	(assert_eq a b) 2>/dev/null && fail "assert_eq a b passed"
	[[ $( (assert_eq a b "the letter") 2>&1) == *"the letter: expected 'b', got 'a'"* ]] ||
		fail "assert_eq did not name what it compared"
	(assert_contains "abc" "x") 2>/dev/null && fail "assert_contains passed"
	(assert_not_contains "abc" "b") 2>/dev/null && fail "assert_not_contains passed"
	(assert_file_exists "$TMP/nothing") 2>/dev/null && fail "assert_file_exists passed"
	assert_json '{"a": [1, 2]}' "json helper" 'assert d["a"] == [1, 2]'
	(assert_json '{"a": 1}' "json helper" 'assert d["a"] == 2') 2>/dev/null && fail "assert_json passed"
	(assert_json 'not json' "json helper" 'pass') 2>/dev/null && fail "assert_json accepted bad JSON"
	assert_eq "$(note "$TMP/repo" HEAD)" ""
	git -C "$TMP/repo" notes --ref=flotilla add -m '{"x": true}' HEAD
	assert_note "$TMP/repo" HEAD "note helper" 'assert d["x"] is True'
	assert_eq "$(tree_sum "$TMP/nothing")" -
	s1=$(tree_sum "$TMP/repo")
	assert_eq "$(tree_sum "$TMP/repo")" "$s1"
	echo more >>"$TMP/repo/file"
	[[ $(tree_sum "$TMP/repo") != "$s1" ]] || fail "tree_sum did not see a changed file"
	[[ $(help_commands) == *$'\naccount create\n'* ]] || fail "help_commands: no 'account create'"
	[[ $(help_options plan) == *$'\n-t\n--tenant\n'* ]] || fail "help_options plan: no -t, --tenant"
	run_fl 0 version
	(run_fl 0 no-such-command) 2>/dev/null && fail "run_fl accepted a wrong exit code"
	echo "lib.sh: helpers ok"
fi
