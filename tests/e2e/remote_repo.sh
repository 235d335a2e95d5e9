#!/usr/bin/env bash
# Remote repositories (docs/remote.md): --repo as a URL. flotilla keeps a
# bare cache under FLOTILLA_CACHE_DIR, fetches it on every run, and pushes
# notes and promotion tags back.
#  1. git daemon (git://) and file:// URLs: validate, a new commit is seen on
#     the next run, a missing repository is an error, apply pushes the notes.
#  2. A smart-HTTP server (tests/servers/git_http_server.py) that wants a
#     token: without it, with a wrong one, then FLOTILLA_GIT_TOKEN; plan,
#     apply through canary (the notes reach the server: ls-remote, and a
#     separate clone that fetches them), promote pushes the tag.
#  3. Two agents with caches of their own: while agent B's canary verify
#     runs, agent A rolls the same commit out and pushes first; B's push is
#     refused, B merges (per commit, per context, latest wins) and pushes
#     again; the server's note then holds both agents' statuses.
#  4. The same race lost on the server: agent A pushes while B's push is
#     inside the server's pre-receive hook, after B's client read the notes
#     ref. receive-pack refuses B's update ("failed to update ref"); B
#     fetches, merges and pushes again.
source "$(dirname "$0")/lib.sh"

HTTP_SERVER=$FL_SOURCE/tests/servers/git_http_server.py
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
export FLOTILLA_CACHE_DIR=$TMP/cache
unset FLOTILLA_GIT_TOKEN FLOTILLA_SSH_KEY

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# note_at GITDIR REV: the ledger note of REV in a bare repository ("" if none).
note_at() {
	note "$1" "$2"
}

# ---- a fleet (flotilla's example) on branch main, served from $SRV/fleet.git ----

SRV=$TMP/srv
W=$TMP/work
run_fl 0 init "$W"
git -C "$W" branch -m main
git -C "$W" config user.name "flotilla tests"
git -C "$W" config user.email "tests@flotilla.invalid"
# The canary verify runs $FL_TEST_HOOK once (the first to make its .once
# directory), to move the remote in the middle of a rollout.
cat >"$W/ci/smoke-test" <<'EOF'
#!/bin/sh
if [ -n "$FL_TEST_HOOK" ] && mkdir "$FL_TEST_HOOK.once" 2>/dev/null; then
	"$FL_TEST_HOOK" >"$FL_TEST_HOOK.log" 2>&1 || { cat "$FL_TEST_HOOK.log"; exit 1; }
fi
echo "smoke test of $1 in $2: ok"
EOF
commit "$W" "smoke test with a hook"
mkdir -p "$SRV"
git clone -q --bare "$W" "$SRV/fleet.git"
# A second branch, so that the cache's HEAD must follow the server's HEAD.
git -C "$W" branch other HEAD~1
git -C "$W" push -q "$SRV/fleet.git" other
C1=$(git -C "$W" rev-parse HEAD)

# ---- 1. git daemon and file:// ----

DPORT=$(free_port)
git daemon --export-all --enable=receive-pack --base-path="$SRV" --port="$DPORT" --listen=127.0.0.1 \
	--reuseaddr "$SRV" 2>"$TMP/daemon.err" &
PIDS+=($!)
for _ in $(seq 100); do
	git ls-remote "git://127.0.0.1:$DPORT/fleet.git" >/dev/null 2>&1 && break
	sleep 0.1
done
GURL=git://127.0.0.1:$DPORT/fleet.git

run_fl 0 validate --repo "$GURL"
assert_contains "$OUT" "fleet 'demo' at ${C1:0:12} is valid"
cache=$(ls "$FLOTILLA_CACHE_DIR")
[[ $cache =~ ^127.0.0.1_${DPORT}_fleet.git-[0-9a-f]{12}$ ]] || fail "unexpected cache name '$cache'"
assert_eq "$(git --git-dir="$FLOTILLA_CACHE_DIR/$cache" symbolic-ref HEAD)" refs/heads/main
[[ $(git --git-dir="$FLOTILLA_CACHE_DIR/$cache" config core.bare) == true ]] || fail "the cache is not bare"

# A new commit on the server is seen by the next run: the cache is fetched each time.
sed -i 's/default: 10 }/default: 12 }/' "$W/fleet.yaml"
commit "$W" "more seats"
git -C "$W" push -q "$SRV/fleet.git" main
C2=$(git -C "$W" rev-parse HEAD)
run_fl 0 validate --repo "$GURL"
assert_contains "$OUT" "at ${C2:0:12} is valid"
run_fl 0 validate --repo "$GURL" --rev other
assert_contains "$OUT" "at $(git -C "$W" rev-parse --short=12 other) is valid"
[[ $(ls "$FLOTILLA_CACHE_DIR" | wc -l) == 1 ]] || fail "a second cache for the same URL"

run_fl 0 validate --repo "file://$SRV/fleet.git"
assert_contains "$OUT" "at ${C2:0:12} is valid"
run_fl 1 validate --repo "git://127.0.0.1:$DPORT/nope.git"
assert_contains "$ERR" "cannot fetch 'git://127.0.0.1:$DPORT/nope.git'"

# apply pushes its notes over git:// too.
run_fl 0 apply --repo "$GURL" --through canary --driver "dir:$TMP/acc0"
assert_contains "$ERR" "pushed 2 refs to $GURL"
assert_json "$(note_at "$SRV/fleet.git" main)" "the note pushed over git://" \
	'assert d["contexts"]["flotilla/wave/canary"]["state"] == "success", d["contexts"]'
# A run again fetches the note it pushed, and pushes on top of it.
run_fl 0 apply --repo "$GURL" --through canary --driver "dir:$TMP/acc0"
assert_not_contains "$ERR" "merged"

# ---- 2. smart HTTP with a token ----

TOKEN=s3cret-token-value
python3 "$HTTP_SERVER" --root "$SRV" --token "$TOKEN" --log "$TMP/http.log" >"$TMP/http.out" 2>"$TMP/http.err" &
PIDS+=($!)
for _ in $(seq 100); do
	[[ -s $TMP/http.out ]] && break
	sleep 0.05
done
[[ $(head -1 "$TMP/http.out") =~ ^PORT\ ([0-9]+)$ ]] || fail "git http server did not start: $(cat "$TMP/http.err")"
HURL=http://127.0.0.1:${BASH_REMATCH[1]}/fleet.git
export FLOTILLA_CACHE_DIR=$TMP/cache-http

run_fl 1 validate --repo "$HURL"
assert_contains "$ERR" "set FLOTILLA_GIT_TOKEN"
FLOTILLA_GIT_TOKEN=not-the-token run_fl 1 validate --repo "$HURL"
assert_contains "$ERR" "the server refused FLOTILLA_GIT_TOKEN"
assert_not_contains "$ERR" "not-the-token"
# A token in the URL is masked in messages and never names the cache.
run_fl 1 validate --repo "http://me:hunter2hunter2@127.0.0.1:1/fleet.git"
assert_not_contains "$ERR" "hunter2"
assert_contains "$ERR" "http://127.0.0.1:1/fleet.git"
[[ -z $(ls "$FLOTILLA_CACHE_DIR" | grep hunter2) ]] || fail "the password went into a cache name"

export FLOTILLA_GIT_TOKEN=$TOKEN
run_fl 0 plan --repo "$HURL" --driver "dir:$TMP/acc-http"
assert_contains "$OUT" "Plan of fleet demo at $C2"
run_fl 0 apply --repo "$HURL" --through canary --driver "dir:$TMP/acc-http"
# The statuses are those the git:// run pushed: only the tenants' note moved.
assert_contains "$ERR" "pushed 1 ref to $HURL"
assert_not_contains "$ERR" "$TOKEN"
assert_contains "$TMP/http.log" "POST /fleet.git/git-receive-pack 200 x-access-token"
assert_not_contains "$TMP/http.log" "$TOKEN"

# The notes are on the server: ls-remote, and a separate clone that fetches them.
AUTH=(-c "http.extraHeader=Authorization: Bearer $TOKEN")
git "${AUTH[@]}" ls-remote "$HURL" >"$TMP/ls"
assert_matches "$TMP/ls" $'\trefs/notes/flotilla$'
git "${AUTH[@]}" clone -q "$HURL" "$TMP/check"
git -C "$TMP/check" "${AUTH[@]}" fetch -q origin "refs/notes/flotilla*:refs/notes/flotilla*"
assert_note "$TMP/check" main "the note in a separate clone" '
c = d["contexts"]
assert c["flotilla/wave/canary"]["state"] == "success", c
assert c["flotilla/plan"]["state"] == "success", c
assert d["tenants"]["acme-test"]["verify"][0]["passed"] is True, d["tenants"]["acme-test"]'

run_fl 0 promote main --wave early --repo "$HURL" -m "looks good"
assert_contains "$OUT" "promoted ${C2:0:12} into wave early"
git "${AUTH[@]}" ls-remote "$HURL" >"$TMP/ls"
assert_matches "$TMP/ls" "refs/tags/flotilla/promote/early/$C2\$"
assert_eq "$(git --git-dir="$SRV/fleet.git" tag -l --format='%(contents:subject)' "flotilla/promote/early/$C2")" \
	"looks good"
run_fl 0 apply --repo "$HURL" --driver "dir:$TMP/acc-http"
assert_contains "$OUT" "rollout done"
assert_json "$(note_at "$SRV/fleet.git" main)" "the note after the whole rollout" '
c = d["contexts"]
assert all(c["flotilla/wave/" + w]["state"] == "success" for w in ("canary", "early", "fleet")), c'

# ---- 3. two agents, and a push refused because the remote moved ----

sed -i 's/default: 12 }/default: 14 }/' "$W/fleet.yaml"
commit "$W" "even more seats"
git -C "$W" push -q "$SRV/fleet.git" main
C3=$(git -C "$W" rev-parse HEAD)
T0=1800000000
cat >"$TMP/hook.sh" <<EOF
#!/bin/sh
# Agent A, with a cache, accounts and a token of its own (B's verify, which
# starts it, never sees B's: docs/security.md), later than B.
exec env -u FL_TEST_HOOK FLOTILLA_GIT_TOKEN="$TOKEN" FLOTILLA_CACHE_DIR="$TMP/cache-a" FLOTILLA_NOW=$((T0 + 100)) \\
	"$FLOTILLA" apply --repo "$HURL" --through canary --driver "dir:$TMP/acc-a"
EOF
chmod +x "$TMP/hook.sh"

export FLOTILLA_CACHE_DIR=$TMP/cache-b
run_fl 0 promote main --wave early --repo "$HURL"
FLOTILLA_NOW=$T0 FL_TEST_HOOK=$TMP/hook.sh run_fl 0 apply --repo "$HURL" --driver "dir:$TMP/acc-b"
assert_file_exists "$TMP/hook.sh.once"
assert_contains "$TMP/hook.sh.log" "pushed 2 refs to $HURL"
assert_contains "$ERR" "the remote's notes had moved: merged them and pushed again (1 merge)"
assert_contains "$ERR" "pushed 2 refs to $HURL"

# The server's note holds both: A's later canary and plan, B's early and fleet waves.
assert_json "$(note_at "$SRV/fleet.git" "$C3")" "the merged note of two agents" "
c, t, w = d['contexts'], d['tenants'], d['waves']
a, b = '2027-01-15T08:01:40Z', '2027-01-15T08:00:00Z'   # T0 + 100, T0
assert c['flotilla/wave/canary']['updated'] == a, c
assert c['flotilla/plan']['updated'] == a, c
assert c['flotilla/wave/early']['updated'] == b and c['flotilla/wave/early']['state'] == 'success', c
assert c['flotilla/wave/fleet']['updated'] == b and c['flotilla/wave/fleet']['state'] == 'success', c
assert w['canary']['succeeded_at'] == b, w
assert t['acme-test']['time'] == a, t['acme-test']
assert [v['time'] for v in t['acme-test']['verify']] == [b, a], t['acme-test']['verify']
assert t['hooli']['time'] == b, t['hooli']
"
# The merge commit has both agents' notes commits as parents.
assert_eq "$(git --git-dir="$SRV/fleet.git" log -1 --format=%s refs/notes/flotilla)" "Notes merged by flotilla"
assert_eq "$(git --git-dir="$SRV/fleet.git" rev-list --parents -1 refs/notes/flotilla | wc -w)" 3
# Earlier commits' notes survived the merge.
assert_json "$(note_at "$SRV/fleet.git" "$C2")" "the older commit's note after the merge" \
	'assert d["contexts"]["flotilla/wave/fleet"]["state"] == "success", d["contexts"]'

# Agent A sees B's statuses on its next run (fetched and merged into its cache).
FLOTILLA_CACHE_DIR=$TMP/cache-a run_fl 0 status --repo "$HURL"
assert_contains "$OUT" "fleet"
assert_json "$(note_at "$TMP/cache-a/$(ls "$TMP/cache-a")" "$C3")" "agent A's cache after a fetch" \
	'assert d["contexts"]["flotilla/wave/fleet"]["state"] == "success", d["contexts"]'
# ---- 4. a push refused by the server itself: the remote moved during it ----

sed -i 's/default: 14 }/default: 16 }/' "$W/fleet.yaml"
commit "$W" "seats, once more"
git -C "$W" push -q "$SRV/fleet.git" main
C4=$(git -C "$W" rev-parse HEAD)
# Runs inside B's receive-pack, once: agent A (later than B) rolls C4 out to
# its canaries and pushes its notes; then B's own update goes ahead against
# a notes ref that has moved since B's client read it.
cat >"$SRV/fleet.git/hooks/pre-receive" <<EOF
#!/bin/sh
cat >/dev/null
mkdir "$TMP/pre-receive.once" 2>/dev/null || exit 0
env -u GIT_DIR -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES \\
	-u FL_TEST_HOOK FLOTILLA_GIT_TOKEN="$TOKEN" FLOTILLA_CACHE_DIR="$TMP/cache-a" FLOTILLA_NOW=$((T0 + 300)) \\
	"$FLOTILLA" apply --repo "$HURL" --through canary --driver "dir:$TMP/acc-a" >"$TMP/pre-receive.log" 2>&1
EOF
chmod +x "$SRV/fleet.git/hooks/pre-receive"

export FLOTILLA_CACHE_DIR=$TMP/cache-b
FLOTILLA_NOW=$((T0 + 200)) run_fl 0 apply --repo "$HURL" --through canary --driver "dir:$TMP/acc-b"
assert_file_exists "$TMP/pre-receive.once"
assert_contains "$TMP/pre-receive.log" "pushed 2 refs to $HURL"
assert_contains "$ERR" "the remote's notes had moved: merged them and pushed again (1 merge)"
assert_contains "$ERR" "pushed 2 refs to $HURL"
rm "$SRV/fleet.git/hooks/pre-receive"

assert_json "$(note_at "$SRV/fleet.git" "$C4")" "the merged note after a refusal by the server" "
c, t = d['contexts'], d['tenants']
a, b = '2027-01-15T08:05:00Z', '2027-01-15T08:03:20Z'   # T0 + 300, T0 + 200
assert c['flotilla/wave/canary']['updated'] == a, c
assert [v['time'] for v in t['acme-test']['verify']] == [b, a], t['acme-test']['verify']
"
assert_eq "$(git --git-dir="$SRV/fleet.git" log -1 --format=%s refs/notes/flotilla)" "Notes merged by flotilla"
echo "remote_repo: ok"
