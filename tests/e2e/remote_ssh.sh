#!/usr/bin/env bash
# ssh remotes (docs/remote.md): --repo ssh://USER@127.0.0.1:PORT/abs/fleet.git
# against a real sshd started here, unprivileged style (its own host key,
# authorized_keys, pid file and log under $TMP), as root or not. The login
# user is the current one; the server runs the real git-upload-pack and
# git-receive-pack, and every check reads the server's bare repository.
#  1. Host keys: libgit2 checks $HOME/.ssh/known_hosts. With no known_hosts,
#     or another key for [127.0.0.1]:PORT, a command fails; with the key, it
#     works.
#  2. FLOTILLA_SSH_KEY, an ed25519 key without passphrase: validate, plan,
#     apply through canary (the note reaches the server), promote (the tag
#     does). An ecdsa key works too.
#  3. A key with a passphrase: with FLOTILLA_SSH_PASSPHRASE, and without.
#  4. A key the server does not know: exit 1, and flotilla names the key.
#  5. The ssh agent (no FLOTILLA_SSH_KEY): without SSH_AUTH_SOCK, with an
#     empty agent, then with the key added: a new commit is fetched.
#  6. A second port of the same sshd also takes passwords (sshd's default):
#     the key is still used, not refused for want of FLOTILLA_GIT_TOKEN.
# Not tested: RSA keys. libssh2 1.10 signs with ssh-rsa (SHA-1), which
# OpenSSH 8.8 and later refuse by default (docs/remote.md).
source "$(dirname "$0")/lib.sh"

SSHD=/usr/sbin/sshd
[[ -x $SSHD ]] || fail "$SSHD is missing: install openssh-server (ci/setup.sh does)"
for tool in ssh ssh-keygen ssh-agent ssh-add; do
	command -v "$tool" >/dev/null || fail "$tool is missing: install openssh-client (ci/setup.sh does)"
done

# Under AddressSanitizer: libgit2 1.5 and libssh2 1.10 leak a little on
# every ssh connection; see the suppression file for the proof. Full stacks,
# so that the suppression can match a frame only the slow unwinder sees.
SUPPRESSIONS=$(cd "$(dirname "$0")/.." && pwd)/lsan-libgit2-ssh.supp
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$SUPPRESSIONS:print_suppressions=0:fast_unwind_on_malloc=0"
SANITIZED=false
grep -qa __asan_init "$FLOTILLA" && SANITIZED=true

# run_fl_leaks EXPECTED_EXIT ARGS...: run_fl; in a sanitized build, without
# the suppression, which would also hide a leak in flotilla's credential
# callback (it runs inside git_remote_connect_ext). LeakSanitizer writes its
# reports to files instead, and every leak must have only library frames
# between its allocation and git_remote_connect_ext.
run_fl_leaks() {
	if [[ $SANITIZED != true ]]; then
		run_fl "$@"
		return
	fi
	rm -f "$TMP"/lsan.*
	LSAN_OPTIONS="exitcode=0:log_path=$TMP/lsan:fast_unwind_on_malloc=0" run_fl "$@"
	assert_not_contains "$ERR" "LeakSanitizer"
	compgen -G "$TMP/lsan.*" >/dev/null || return 0
	python3 - "$TMP"/lsan.* <<'EOF' || fail "flotilla ${*:2} leaked (above: the first leak that is not libgit2's or libssh2's own)"
import re, sys
library = re.compile(r"\.so[.\d]*\+0x[\da-f]+\)$|/libsanitizer/")
for path in sys.argv[1:]:
    for leak in re.split(r"\n(?=(?:Direct|Indirect) leak of)", open(path).read()):
        if not re.match(r"(Direct|Indirect) leak of", leak):
            continue
        frames = re.findall(r"^ *#\d+ .*$", leak, re.M)
        connect = [i for i, f in enumerate(frames) if " git_remote_connect_ext " in f]
        if not connect or not all(library.search(f) for f in frames[: connect[0]]):
            sys.stderr.write(leak)
            sys.exit(1)
EOF
}

unset FLOTILLA_GIT_TOKEN FLOTILLA_SSH_KEY FLOTILLA_SSH_PASSPHRASE SSH_AUTH_SOCK
SSHD_PID=
SSH_AGENT_PID= # ours, once started
cleanup() {
	if [[ -n $SSHD_PID ]]; then
		kill "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
	fi
	[[ -z $SSH_AGENT_PID ]] || kill "$SSH_AGENT_PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
export FLOTILLA_CACHE_DIR=$TMP/cache

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# note_at GITDIR REV: the ledger note of REV in a bare repository ("" if none).
note_at() {
	note "$1" "$2"
}

# ---- keys ----

K=$TMP/keys
mkdir -p "$K"
ssh-keygen -q -t ed25519 -N '' -C flotilla-tests-host -f "$K/host"
ssh-keygen -q -t ed25519 -N '' -C flotilla-tests-other-host -f "$K/other_host"
ssh-keygen -q -t ed25519 -N '' -C flotilla-tests -f "$K/id"
ssh-keygen -q -t ecdsa -N '' -C flotilla-tests-ecdsa -f "$K/id_ecdsa"
ssh-keygen -q -t ed25519 -N 'correct horse battery' -C flotilla-tests-pass -f "$K/id_pass"
ssh-keygen -q -t ed25519 -N '' -C flotilla-tests-stranger -f "$K/stranger"
cat "$K/id.pub" "$K/id_ecdsa.pub" "$K/id_pass.pub" >"$K/authorized_keys"

# ---- sshd: port P takes keys only; port P2 takes passwords too ----

USER_NAME=$(id -un)
if [[ $(id -u) == 0 ]]; then
	# Root's sshd separates privileges and chroots its unprivileged half into /run/sshd.
	# (Another test may make it at the same moment: only its absence fails.)
	mkdir -m 0755 /run/sshd 2>/dev/null || [[ -d /run/sshd ]] || fail "cannot make /run/sshd for sshd"
fi

# start_sshd: writes the config for ports $P and $P2, starts sshd and waits
# (10 s at most) until it listens on both; 1 if another process took one of
# the ports meanwhile.
start_sshd() {
	cat >"$TMP/sshd_config" <<EOF
Port $P
Port $P2
ListenAddress 127.0.0.1
HostKey $K/host
PidFile $TMP/sshd.pid
AuthorizedKeysFile $K/authorized_keys
AllowUsers $USER_NAME
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
Match LocalPort $P2
	PasswordAuthentication yes
	KbdInteractiveAuthentication yes
EOF
	# OpenSSH 9.8 and later shut out an address after failed logins, which this test has.
	if "$SSHD" -t -f "$TMP/sshd_config" -o PerSourcePenalties=no 2>/dev/null; then
		sed -i '/^Match/i PerSourcePenalties no' "$TMP/sshd_config"
	fi
	"$SSHD" -D -e -f "$TMP/sshd_config" 2>"$TMP/sshd.log" &
	SSHD_PID=$!
	for _ in $(seq 100); do
		# A port taken meanwhile: sshd goes on with the other one, or exits.
		if grep -q "Address already in use" "$TMP/sshd.log"; then
			kill "$SSHD_PID" 2>/dev/null || true
			wait "$SSHD_PID" 2>/dev/null || true
			SSHD_PID=
			return 1
		fi
		if ! kill -0 "$SSHD_PID" 2>/dev/null; then
			wait "$SSHD_PID" 2>/dev/null || true
			SSHD_PID=
			fail "sshd exited at start:
$(cat "$TMP/sshd.log")"
		fi
		if grep -qF "Server listening on 127.0.0.1 port $P." "$TMP/sshd.log" &&
			grep -qF "Server listening on 127.0.0.1 port $P2." "$TMP/sshd.log" &&
			(exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$P2") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	fail "sshd does not accept connections on 127.0.0.1:$P and :$P2 after 10 s:
$(cat "$TMP/sshd.log")"
}
for attempt in 1 2 3 4 5; do
	P=$(free_port)
	P2=$(free_port)
	[[ $P != "$P2" ]] && start_sshd && break
	[[ $attempt == 5 ]] && fail "sshd could not bind two free ports:
$(cat "$TMP/sshd.log")"
done

# The known_hosts that libgit2 reads ($HOME is lib.sh's scratch home), in
# OpenSSH's form for a port other than 22.
KNOWN_HOSTS=$HOME/.ssh/known_hosts
mkdir -m 0700 "$HOME/.ssh"
HOST_LINES="[127.0.0.1]:$P $(cut -d' ' -f1,2 "$K/host.pub")
[127.0.0.1]:$P2 $(cut -d' ' -f1,2 "$K/host.pub")"

# The server side, seen by OpenSSH's client: the login works and the login
# shell finds git-upload-pack and git-receive-pack (sshd's default PATH, and
# whatever the user's shell start-up files add).
printf '%s\n' "$HOST_LINES" >"$TMP/ssh_known_hosts"
SSH_OPTS=(-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes
	-o "UserKnownHostsFile=$TMP/ssh_known_hosts" -i "$K/id" -p "$P")
server_git=$(ssh "${SSH_OPTS[@]}" "$USER_NAME@127.0.0.1" 'command -v git-upload-pack git-receive-pack' 2>"$TMP/ssh.err") ||
	fail "cannot log in over ssh as $USER_NAME: $(cat "$TMP/ssh.err")
--- sshd log
$(cat "$TMP/sshd.log")"
[[ $server_git == /*git-upload-pack$'\n'/*git-receive-pack ]] ||
	fail "the server's login shell does not find git-upload-pack and git-receive-pack on its PATH: '$server_git'"

# ---- a fleet (flotilla's example) on branch main, in $SRV ----

W=$TMP/work
SRV=$TMP/srv/fleet.git
run_fl 0 init "$W"
git -C "$W" branch -m main
git -C "$W" config user.name "flotilla tests"
git -C "$W" config user.email "tests@flotilla.invalid"
mkdir -p "$TMP/srv"
git clone -q --bare "$W" "$SRV"
C1=$(git -C "$W" rev-parse HEAD)
URL=ssh://$USER_NAME@127.0.0.1:$P$SRV
SHOWN=ssh://127.0.0.1:$P$SRV # messages drop the user information

# ---- 1. host keys ----

export FLOTILLA_SSH_KEY=$K/id
run_fl 1 validate --repo "$URL"
assert_contains "$ERR" "error: cannot fetch '$SHOWN': invalid or unknown remote ssh hostkey"
assert_not_contains "$ERR" "$USER_NAME@"
echo "[127.0.0.1]:$P $(cut -d' ' -f1,2 "$K/other_host.pub")" >"$KNOWN_HOSTS"
run_fl 1 validate --repo "$URL"
assert_contains "$ERR" "error: cannot fetch '$SHOWN': invalid or unknown remote ssh hostkey"
printf '%s\n' "$HOST_LINES" >"$KNOWN_HOSTS"

# ---- 2. FLOTILLA_SSH_KEY without a passphrase ----

run_fl_leaks 0 validate --repo "$URL"
assert_contains "$OUT" "fleet 'demo' at ${C1:0:12} is valid"
cache=$(ls "$FLOTILLA_CACHE_DIR")
[[ $cache =~ ^127.0.0.1_${P}_.*fleet.git-[0-9a-f]{12}$ ]] || fail "unexpected cache name '$cache'"
assert_eq "$(git --git-dir="$FLOTILLA_CACHE_DIR/$cache" rev-parse main)" "$C1"

run_fl 0 plan --repo "$URL" --driver "dir:$TMP/acc"
assert_contains "$OUT" "Plan of fleet demo at $C1"

run_fl 0 apply --repo "$URL" --through canary --driver "dir:$TMP/acc"
assert_contains "$ERR" "pushed 2 refs to $SHOWN"
assert_not_contains "$ERR" "warning: statuses were not pushed"
assert_json "$(note_at "$SRV" main)" "the note pushed over ssh, in the server's repository" '
c = d["contexts"]
assert c["flotilla/wave/canary"]["state"] == "success", c
assert c["flotilla/plan"]["state"] == "success", c'
grep -q "Accepted publickey for $USER_NAME .* ED25519" "$TMP/sshd.log" || fail "sshd did not log the ed25519 key:
$(cat "$TMP/sshd.log")"

run_fl_leaks 0 promote main --wave early --repo "$URL" -m "over ssh"
assert_contains "$OUT" "promoted ${C1:0:12} into wave early"
assert_eq "$(git --git-dir="$SRV" tag -l 'flotilla/promote/*')" "flotilla/promote/early/$C1"
assert_eq "$(git --git-dir="$SRV" tag -l --format='%(contents:subject)' "flotilla/promote/early/$C1")" "over ssh"

FLOTILLA_SSH_KEY=$K/id_ecdsa run_fl 0 validate --repo "$URL"
assert_contains "$OUT" "is valid"

# ---- 3. a key with a passphrase ----

FLOTILLA_SSH_KEY=$K/id_pass FLOTILLA_SSH_PASSPHRASE='correct horse battery' run_fl_leaks 0 validate --repo "$URL"
assert_contains "$OUT" "fleet 'demo' at ${C1:0:12} is valid"
# Without the passphrase, or a wrong one, libssh2 cannot read the key.
FLOTILLA_SSH_KEY=$K/id_pass run_fl 1 validate --repo "$URL"
assert_contains "$ERR" "error: cannot fetch '$SHOWN': "
assert_contains "$ERR" "passphrase"
FLOTILLA_SSH_KEY=$K/id_pass FLOTILLA_SSH_PASSPHRASE=not-the-passphrase run_fl 1 validate --repo "$URL"
assert_contains "$ERR" "passphrase"
assert_not_contains "$ERR" "not-the-passphrase"

# ---- 4. a key the server does not know ----

FLOTILLA_SSH_KEY=$K/stranger run_fl_leaks 1 validate --repo "$URL"
assert_contains "$ERR" "error: cannot fetch '$SHOWN': authentication failed: the server refused the key of FLOTILLA_SSH_KEY"
FLOTILLA_SSH_KEY=$K/stranger run_fl 1 promote main --wave fleet --repo "$URL"
assert_contains "$ERR" "the server refused the key of FLOTILLA_SSH_KEY"
assert_eq "$(git --git-dir="$SRV" tag -l 'flotilla/promote/fleet/*')" ""
# A user the server has not (the URL names none: flotilla says "git").
run_fl 1 validate --repo "ssh://127.0.0.1:$P$SRV"
assert_contains "$ERR" "the server refused the key of FLOTILLA_SSH_KEY"
# A path that is not a repository: git-upload-pack's own message, on one line.
run_fl 1 validate --repo "ssh://$USER_NAME@127.0.0.1:$P$TMP/srv/nope.git"
assert_contains "$ERR" "error: cannot fetch 'ssh://127.0.0.1:$P$TMP/srv/nope.git': "
assert_contains "$ERR" "does not appear to be a git repository"
assert_eq "$(wc -l <"$ERR_FILE")" 1

# ---- 5. the ssh agent ----

unset FLOTILLA_SSH_KEY
run_fl 1 validate --repo "$URL"
assert_contains "$ERR" "error: cannot fetch '$SHOWN': "
eval "$(ssh-agent -s -a "$TMP/agent.sock")" >/dev/null
[[ -S $SSH_AUTH_SOCK && -n $SSH_AGENT_PID ]] || fail "ssh-agent did not start"
run_fl_leaks 1 validate --repo "$URL"
assert_contains "$ERR" "error: cannot fetch '$SHOWN': authentication failed: the server refused the keys of the ssh agent"
ssh-add -q "$K/stranger" "$K/id" 2>/dev/null
# A new commit on the server comes in through the agent's keys.
sed -i 's/default: 10 }/default: 12 }/' "$W/fleet.yaml"
commit "$W" "more seats"
git -C "$W" push -q "$SRV" main
C2=$(git -C "$W" rev-parse HEAD)
run_fl_leaks 0 validate --repo "$URL"
assert_contains "$OUT" "fleet 'demo' at ${C2:0:12} is valid"
# FLOTILLA_SSH_KEY set but empty means the agent too.
FLOTILLA_SSH_KEY='' run_fl 0 status --repo "$URL"
kill "$SSH_AGENT_PID"
SSH_AGENT_PID=
unset SSH_AUTH_SOCK

# ---- 6. a server that takes passwords as well as keys ----

URL2=ssh://$USER_NAME@127.0.0.1:$P2$SRV
export FLOTILLA_SSH_KEY=$K/id
FLOTILLA_GIT_TOKEN=not-an-ssh-password run_fl_leaks 0 apply --repo "$URL2" --through canary --driver "dir:$TMP/acc"
assert_contains "$ERR" "pushed 2 refs to ssh://127.0.0.1:$P2$SRV"
assert_json "$(note_at "$SRV" "$C2")" "the note pushed through the port that takes passwords" \
	'assert d["contexts"]["flotilla/wave/canary"]["state"] == "success", d["contexts"]'
FLOTILLA_SSH_KEY=$K/stranger run_fl 1 validate --repo "$URL2"
assert_contains "$ERR" "authentication failed: the server refused the key of FLOTILLA_SSH_KEY"
assert_not_contains "$TMP/sshd.log" "Failed password"
echo "remote_ssh: ok"
