#!/usr/bin/env bash
# flotilla(1), as `flotilla help --man` prints it (the page the build writes
# and installs), cannot drift from the binary:
#   - the section of every command and subcommand that --help lists
#     (help_commands) holds every option its --help lists, each spelling;
#   - groff renders it without a warning (-ww) and mandoc -Tlint finds
#     nothing, not even style;
#   - EXIT STATUS has SPEC 7's codes 0 to 5, and ENVIRONMENT names every
#     variable the source reads (getenv, fl_aws_env_get).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

: "${FL_SOURCE:?set FL_SOURCE to the source tree}"
for tool in groff mandoc; do
	command -v "$tool" >/dev/null || fail "$tool is needed (ci/setup.sh installs it)"
done

run_fl 0 help --man
page=$TMP/flotilla.1
cp "$OUT_FILE" "$page"

groff -man -Tutf8 -ww -z "$page" 2>"$TMP/groff.err" || fail "groff failed: $(cat "$TMP/groff.err")"
[[ ! -s $TMP/groff.err ]] || fail "groff warns about the page:
$(cat "$TMP/groff.err")"
mandoc -Tlint "$page" >"$TMP/lint" 2>&1 || true
[[ ! -s $TMP/lint ]] || fail "mandoc -Tlint finds problems in the page:
$(cat "$TMP/lint")"

# The page as text, lines long enough that nothing wraps; no hyphenation either.
groff -man -Tascii -rLL=400n -P-c -P-b -P-u "$page" 2>/dev/null >"$TMP/page.txt"

# section NAME: the lines of the page's subsection "flotilla NAME".
section() {
	awk -v head="   flotilla $1" '
		$0 == head { on = 1; next }
		on && (/^   flotilla / || /^[A-Z]/) { exit }
		on { print }' "$TMP/page.txt"
}

n=0
while read -r cmd; do
	text=$(section "$cmd")
	[[ -n $text ]] || fail "the page has no section 'flotilla $cmd'"
	assert_contains "$text" "flotilla $cmd"
	for opt in $(help_options "$cmd"); do
		grep -qE -- "(^|[^a-z-])$opt([^a-z-]|\$)" <<<"$text" ||
			fail "the page's section 'flotilla $cmd' lacks $opt, which 'flotilla $cmd --help' lists"
		n=$((n + 1))
	done
done < <(help_commands)
((n > 40)) || fail "only $n options found: the --help parsing broke"

exit_status=$(awk '/^EXIT STATUS/ { on = 1; next } on && /^[A-Z]/ { exit } on { print }' "$TMP/page.txt")
for code in 0 1 2 3 4 5; do
	grep -qE "^ +$code\$|^ +$code  " <<<"$exit_status" || fail "EXIT STATUS lacks the code $code"
done

environment=$(awk '/^ENVIRONMENT/ { on = 1; next } on && /^[A-Z]/ { exit } on { print }' "$TMP/page.txt")
vars=$(grep -rhoE '(getenv|fl_aws_env_get)\([^")]*"[A-Z_]+"' "$FL_SOURCE/core" "$FL_SOURCE/reconcile" "$FL_SOURCE/cmd" |
	grep -oE '"[A-Z_]+"' | tr -d '"' | sort -u)
[[ $vars == *FLOTILLA_GIT_TOKEN* && $vars == *AWS_REGION* ]] || fail "no variables found in the source: $vars"
for var in $vars; do
	grep -qE "(^|[^A-Z_])$var([^A-Z_]|\$)" <<<"$environment" ||
		fail "ENVIRONMENT does not name $var, which the source reads"
done
