#!/usr/bin/env bash
# docs/commands.md cannot drift from the binary: for every command that
# `flotilla --help` lists (and every subcommand that a command's --help
# lists under "Commands:", like `account create`, as a command of its own),
#   - the synopsis block at the top of the page holds the usage line that
#     `flotilla CMD --help` prints (white space aside), and nothing else;
#   - the section `## flotilla CMD` has an "Options:" list with exactly the
#     options --help lists (-h, --help aside), one bullet each, opening with
#     the option as --help spells it: "- `-t, --tenant T`: ...";
#   - a usage error prints the same usage line as --help.
# The page's own comment, under the synopsis, states the rule for writers.
source "$(dirname "$0")/lib.sh"

: "${FL_SOURCE:?set FL_SOURCE to the source tree}"

python3 - "$FLOTILLA" "$FL_SOURCE/docs/commands.md" <<'PY' || fail "docs/commands.md and --help disagree (above)"
import re
import subprocess
import sys

flotilla, doc_path = sys.argv[1], sys.argv[2]
problems = []


def run(*args):
    return subprocess.run([flotilla, *args], capture_output=True, text=True)


def squeeze(text):
    return " ".join(text.split())


def commands_in(help_lines):
    start = help_lines.index("Commands:") + 1
    names = []
    for line in help_lines[start:]:
        if not line.strip():
            break
        names.append(line.split()[0])
    return names


def listed_commands():
    """Every command of flotilla --help; one with subcommands stands for them ("account create")."""
    names = []
    for name in commands_in(run("--help").stdout.splitlines()):
        r = run(name, "--help")
        lines = r.stdout.splitlines()
        if "Commands:" not in lines:
            names.append(name)
            continue
        if r.returncode != 0:
            problems.append(f"flotilla {name} --help exited {r.returncode}")
        bad = run(name, "--no-such-command")
        if bad.returncode != 2:
            problems.append(f"flotilla {name} --no-such-command: exit {bad.returncode}, expected 2")
        names.extend(f"{name} {sub}" for sub in commands_in(lines))
    return names


def usage_of(lines):
    """The usage line at the top of lines (it may wrap), without 'usage: '."""
    block = []
    for line in lines:
        if not line.strip():
            break
        block.append(line)
    text = squeeze(" ".join(block))
    assert text.startswith("usage: "), text
    return text[len("usage: "):]


def help_of(cmd):
    r = run(*cmd.split(), "--help")
    if r.returncode != 0:
        problems.append(f"flotilla {cmd} --help exited {r.returncode}")
    lines = r.stdout.splitlines()
    opts = []
    # usage, blank, summary, blank, then "  LEFT  help" lines.
    body = lines[lines.index("") + 1:]
    for line in body[body.index("") + 1:]:
        left = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        if left != "-h, --help":
            opts.append(left)
    return usage_of(lines), opts


def doc_synopsis(text):
    block = re.search(r"^```\n(.*?)^```", text, re.S | re.M).group(1)
    entries = []
    for line in block.splitlines():
        if line.startswith("flotilla "):
            entries.append(line)
        elif line.strip():
            entries[-1] += " " + line
    names = [command_of(squeeze(e)) for e in entries]
    return {n: squeeze(e) for n, e in zip(names, entries)}, names


def command_of(usage):
    """The command a usage line is for: "plan", or "account create" for a subcommand."""
    words = usage.split()[1:]
    if len(words) > 1 and words[0] in parents:
        return " ".join(words[:2])
    return words[0]


def doc_sections(text):
    sections = {}
    for m in re.finditer(r"^## flotilla ([a-z-]+(?: [a-z-]+)?)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        sections.setdefault(m.group(1), []).append(m.group(2))
    return sections


def doc_options(cmd, body):
    lines = body.splitlines()
    heads = [i for i, l in enumerate(lines) if l.startswith("Options:")]
    if len(heads) != 1:
        problems.append(f"docs: section 'flotilla {cmd}' has {len(heads)} 'Options:' lines, expected 1")
        return []
    head = lines[heads[0]]
    if head != "Options:":
        if not head.startswith("Options: none"):
            problems.append(f"docs: section 'flotilla {cmd}': expected 'Options:' or 'Options: none...', got '{head}'")
        return []
    opts = []
    for line in lines[heads[0] + 1:]:
        if line.startswith("- "):
            m = re.match(r"- `([^`]+)`", line)
            if not m:
                problems.append(f"docs: section 'flotilla {cmd}': option bullet without `option`: '{line}'")
                continue
            opts.append(m.group(1))
        elif not line.startswith("  ") or not line.strip():
            break
    return opts


text = open(doc_path, encoding="utf-8").read()
commands = listed_commands()
parents = {c.split()[0] for c in commands if " " in c}
if len(commands) < 8:
    problems.append(f"flotilla --help lists {len(commands)} commands: {commands}")
synopsis, synopsis_order = doc_synopsis(text)
sections = doc_sections(text)

for extra in sorted(set(synopsis_order) - set(commands)):
    problems.append(f"docs: the synopsis has 'flotilla {extra}', which flotilla --help does not list")
if len(synopsis_order) != len(set(synopsis_order)):
    problems.append(f"docs: the synopsis lists a command twice: {synopsis_order}")
for extra in sorted(set(sections) - set(commands)):
    problems.append(f"docs: section 'flotilla {extra}' is for a command flotilla --help does not list")

checked = 0
for cmd in commands:
    usage, opts = help_of(cmd)
    want = f"flotilla {cmd}"
    if usage != want and not usage.startswith(want + " "):
        problems.append(f"flotilla {cmd} --help: usage '{usage}' does not name the command")
    if synopsis.get(cmd) != usage:
        problems.append(f"docs: synopsis of {cmd}:\n    doc:  {synopsis.get(cmd)}\n    help: {usage}")
    bad = run(*cmd.split(), "--no-such-option")
    err = bad.stderr.splitlines()
    if bad.returncode != 2 or len(err) < 2 or usage_of(err[1:]) != usage:
        problems.append(f"flotilla {cmd} --no-such-option: exit {bad.returncode}, expected 2 and the usage of --help; stderr:\n{bad.stderr}")
    bodies = sections.get(cmd, [])
    if len(bodies) != 1:
        problems.append(f"docs: {len(bodies)} sections '## flotilla {cmd}', expected 1")
        continue
    documented = doc_options(cmd, bodies[0])
    for o in opts:
        if o not in documented:
            problems.append(f"docs: section 'flotilla {cmd}' does not list `{o}`, which --help shows")
    for o in documented:
        if o not in opts:
            problems.append(f"docs: section 'flotilla {cmd}' lists `{o}`, which --help does not show")
    if len(documented) != len(set(documented)):
        problems.append(f"docs: section 'flotilla {cmd}' lists an option twice: {documented}")
    checked += len(opts)

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"help and docs/commands.md agree: {len(commands)} commands, {checked} options")
PY
