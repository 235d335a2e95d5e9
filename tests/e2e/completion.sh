#!/usr/bin/env bash
# The bash and zsh completions, as `flotilla help --completion SHELL` prints
# them (the files the build writes and installs):
#   - both offer every option of every command's and subcommand's --help,
#     each spelling (help_commands, help_options), so an option added to a
#     table without reaching them fails here;
#   - bash completes for real: the script is sourced and _flotilla called
#     with COMP_WORDS and COMP_CWORD set, in a fleet made by flotilla init
#     (commands, options, --opt=value, the waves of fleet.yaml, tenants);
#   - zsh loads it under compinit (it registers for flotilla), compiles it,
#     and each command's function holds every option.
# zsh is in ci/setup.sh's packages: a missing zsh fails, it is not skipped.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v zsh >/dev/null || fail "zsh is needed (ci/setup.sh installs it)"

run_fl 0 help --completion bash
cp "$OUT_FILE" "$TMP/flotilla.bash"
run_fl 0 help --completion zsh
mkdir "$TMP/zsh"
cp "$OUT_FILE" "$TMP/zsh/_flotilla"
run_fl 2 help --completion fish
assert_contains "$ERR" "no completion for the shell 'fish'"

run_fl 0 init "$TMP/fleet"
cd "$TMP/fleet"

# complete WORD...: the candidates bash offers for the last word, one a line.
complete_bash() {
	bash -c 'source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		_flotilla
		printf "%s\n" "${COMPREPLY[@]}"' - "$TMP/flotilla.bash" flotilla "$@"
}

# expect_bash WANT WORD...: the candidates, space-separated and sorted, are WANT.
expect_bash() {
	local want=$1 got
	shift
	got=$(complete_bash "$@" | sort | xargs)
	[[ $got == "$want" ]] || fail "bash: flotilla $* <TAB> offers '$got', expected '$want'"
}

# --- every option, in both shells ---
zsh -f -c "
	fpath=('$TMP/zsh' \$fpath)
	autoload -Uz compinit && compinit -u -d '$TMP/zcompdump'
	source '$TMP/zsh/_flotilla'
	[[ \$_comps[flotilla] == _flotilla ]] || { echo 'compdef did not register _flotilla for flotilla'; exit 1; }
	for f in \${(k)functions[(I)_flotilla_*]}; do print -r -- \"== \$f\"; functions \$f; done
" >"$TMP/zsh.functions" 2>"$TMP/zsh.err" || fail "zsh cannot load the completion: $(cat "$TMP/zsh.err") $(cat "$TMP/zsh.functions")"
[[ ! -s $TMP/zsh.err ]] || fail "zsh complains loading the completion: $(cat "$TMP/zsh.err")"
zsh -n "$TMP/zsh/_flotilla" || fail "zsh -n: the completion does not parse"
zsh -f -c "zcompile '$TMP/zsh/_flotilla'" || fail "zcompile cannot compile the completion"

# zsh_function CMD: the body of CMD's completion function, as zsh read it.
zsh_function() {
	awk -v head="== _flotilla_${1// /_}" '$0 == head { on = 1; next } on && /^== / { exit } on { print }' "$TMP/zsh.functions"
}

# zsh_offers BODY OPT: an _arguments spec of BODY is OPT's: '--repo=[...', '(-w --wave)-w+[...',
# '*--tenant=[...', '--prune[...', or -h and --help as '(- *)'{-h,--help}'[...'.
zsh_offers() {
	local spec="['\\)*]$2[=+[]"
	[[ $1 =~ $spec ]] || [[ $1 == *"{-h,--help}'["* && ($2 == -h || $2 == --help) ]]
}

n=0
all=$(complete_bash "")
while read -r cmd; do
	assert_contains "$all" "${cmd%% *}"
	if [[ $cmd == *" "* ]]; then
		assert_contains "$(complete_bash "${cmd%% *}" "")" "${cmd#* }"
	fi
	# shellcheck disable=SC2086 # CMD is one or two words
	offered=$(complete_bash $cmd -)
	body=$(zsh_function "$cmd")
	[[ -n $body ]] || fail "zsh: no completion function for 'flotilla $cmd'"
	for opt in $(help_options "$cmd"); do
		grep -qx -- "$opt" <<<"$offered" ||
			fail "bash: 'flotilla $cmd -<TAB>' does not offer $opt, which 'flotilla $cmd --help' lists"
		zsh_offers "$body" "$opt" ||
			fail "zsh: the completion of 'flotilla $cmd' lacks $opt, which 'flotilla $cmd --help' lists"
		n=$((n + 1))
	done
done < <(help_commands)
((n > 40)) || fail "only $n options found: the --help parsing broke"

# --- bash, for real ---
expect_bash "plan" pl
expect_bash "--through" apply --th
expect_bash "canary early fleet" promote HEAD --wave ""
expect_bash "early" promote HEAD -w e
expect_bash "canary early fleet" apply --through ""
# "--wave=e" is three words when "=" breaks words (bash's default), one otherwise.
expect_bash "early" promote HEAD --wave = e
expect_bash "--format=markdown" plan --format=m
expect_bash "json text" status --format ""
expect_bash "HEAD main" status ""
expect_bash "acme-test" plan -t acme
expect_bash "close create" account ""
expect_bash "--email" account create acme-test --em
expect_bash "acme-test" account close acme
expect_bash "bash zsh" help --completion ""
expect_bash "account" help acc
mkdir -p "$TMP/fleet/some-dir"
expect_bash "some-dir" init so
# Its --repo's fleet, not the current directory's.
cd "$TMP"
expect_bash "" promote HEAD --wave ""
expect_bash "canary early fleet" promote HEAD --repo fleet --wave ""
expect_bash "canary early fleet" promote --repo=fleet HEAD --wave ""

# --- zsh, for real: an interactive zsh on a pseudo-terminal (zpty) completes
# a line at TAB; each check waits for what it must print (the whole run is
# bounded, so a candidate that never shows fails instead of hanging).
cd "$TMP/fleet"
cat >"$TMP/tab.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=($TMP_ZSH \$fpath); autoload -Uz compinit; compinit -u -d $TMP_ZSH/.zcompdump; zstyle ':completion:*' menu no; print RE''ADY"
zpty -r z out '*READY*>*'
# tab LINE PATTERN: type LINE and TAB; wait until what zsh prints after it
# matches PATTERN (zle prints the line again with what it completed; PATTERN
# must not match what was typed).
tab() {
	zpty -w -n z "$1"$'\t'
	zpty -r z out "$2" || { print -r -- "no match for '$2' after '$1<TAB>'"; exit 1; }
	print -r -- "ok: $1<TAB>"
	zpty -w -n z $'\C-u'
}
tab 'flotilla pl' '*plan*'
tab 'flotilla apply --th' '*through*'
tab 'flotilla plan --format ' '*json*markdown*text*'
tab 'flotilla promote HEAD --wave ' '*canary*early*fleet*'
tab 'flotilla plan --tenant acme' '*acme-test*'
tab 'flotilla account cr' '*create*'
tab 'flotilla account create acme-test --em' '*email*'
zpty -d z
ZSH
TMP_ZSH=$TMP/zsh timeout 60 zsh -f "$TMP/tab.zsh" >"$TMP/tab.out" 2>&1 ||
	fail "zsh does not complete as expected: $(cat "$TMP/tab.out")"
[[ $(grep -c '^ok: ' "$TMP/tab.out") == 7 ]] || fail "zsh completed only: $(cat "$TMP/tab.out")"
