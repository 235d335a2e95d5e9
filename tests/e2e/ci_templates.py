#!/usr/bin/env python3
"""Checks the CI templates users copy (ci/templates/*.yml).

Usage: ci_templates.py FLOTILLA TEMPLATE_DIR [--print-step FILE JOB STEP]

Every template must parse as YAML, and every flotilla invocation in its
scripts must name a real command and only that command's real options,
each with a value where the option takes one: the options are read from
`flotilla CMD --help` (printed from the option tables), and each invocation
is then given to the real parser (with `--help` last, so nothing runs).
Then the rules of issue 10's loop are checked on the workflows: triggers,
per-job permissions, one concurrency group for apply, fork pull requests
planned offline without secrets or a comment, no ${{ }} expansions inside
scripts (script injection), exit code 5 accepted by apply.

--print-step prints the script of a GitHub Actions step (by name) so the
shell test can run it for real.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


# ---- the real command line ----

def commands(flotilla):
    out = subprocess.run([flotilla, "help"], capture_output=True, text=True, check=True).stdout
    section = out.split("Commands:", 1)[1]
    return {m.group(1) for m in re.finditer(r"^  ([a-z]+) ", section, re.M)}


def options(flotilla, words):
    """{"--name": takes_value} and the number of positional arguments, from --help."""
    out = subprocess.run([flotilla, *words, "--help"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"flotilla {' '.join(words)} --help failed: {out.stderr}")
    opts, positional = {}, 0
    for line in out.stdout.splitlines():
        m = re.match(r"^  (?:-(\w), )?--([a-z][a-z0-9-]*)( \S+)?\s{2,}", line)
        if m:
            opts["--" + m.group(2)] = bool(m.group(3))
            if m.group(1):
                opts["-" + m.group(1)] = bool(m.group(3))
        elif re.match(r"^  [A-Z][A-Z_]*\s{2,}", line):
            positional += 1
    return opts, positional


# ---- finding invocations in scripts ----

OPERATORS = {"|", "||", "&&", ";", "&", "(", ")", ">", ">>", "<", "|&"}


def logical_lines(script):
    return script.replace("\\\n", " ").splitlines()


def invocations(script):
    """Each flotilla invocation of a script, as its words up to a shell operator."""
    found = []
    for line in logical_lines(script):
        if "flotilla" not in line or line.lstrip().startswith("#"):
            continue
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        try:
            words = list(lex)
        except ValueError as e:
            problem("script", f"cannot split {line!r}: {e}")
            continue
        at_command = True
        for i, w in enumerate(words):
            if w in OPERATORS or w in ("then", "else", "do", "if", "!"):
                at_command = True
                continue
            if at_command and w == "flotilla":
                end = i + 1
                while end < len(words) and words[end] not in OPERATORS:
                    end += 1
                found.append(words[i + 1:end])
            at_command = False
    return found


def dummy(word):
    """A stand-in for what the shell would expand, for the real parser."""
    if "$" not in word:
        return word
    if re.fullmatch(r"\$\{?(PR|CI_MERGE_REQUEST_IID)\}?", word):
        return "7"
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "x", word)


def check_invocation(where, words, flotilla, cmds, cache):
    if not words:
        problem(where, "flotilla without a command")
        return
    cmd = words[0]
    if cmd not in cmds:
        problem(where, f"'flotilla {cmd}': no such command")
        return
    sub = [cmd]
    if cmd == "account" and len(words) > 1 and not words[1].startswith("-"):
        sub.append(words[1])
    key = tuple(sub)
    if key not in cache:
        cache[key] = options(flotilla, sub)
    opts, positional = cache[key]
    i, args = len(sub), 0
    while i < len(words):
        w = words[i]
        if w.startswith("-"):
            name = w.split("=", 1)[0]
            if name not in opts:
                problem(where, f"'flotilla {' '.join(sub)}' has no option {name}")
            elif opts[name] and "=" not in w:
                if i + 1 >= len(words) or words[i + 1].startswith("-"):
                    problem(where, f"{name} needs a value")
                i += 1
            elif not opts[name] and "=" in w:
                problem(where, f"{name} takes no value")
        else:
            args += 1
        i += 1
    if args > positional:
        problem(where, f"'flotilla {' '.join(words)}': {args} arguments, the command takes {positional}")
    real = subprocess.run([flotilla, *map(dummy, words), "--help"], capture_output=True, text=True)
    if real.returncode != 0:
        problem(where, f"the real parser refuses 'flotilla {' '.join(words)}': {real.stderr.strip()}")


# ---- the templates ----

def scripts_github(doc):
    for jname, job in (doc.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            if "run" in step:
                yield f"job {jname}, step {step.get('name', '?')!r}", step["run"], job, step


def scripts_gitlab(doc):
    for jname, job in doc.items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key)
            if isinstance(lines, str):
                lines = [lines]
            for n, text in enumerate(lines or []):
                yield f"job {jname}, {key}[{n}]", text, job, None


def triggers(doc):
    # YAML 1.1 reads the key `on` as true.
    return doc.get("on", doc.get(True)) or {}


def check_github(name, doc):
    on = triggers(doc)
    for t in ("pull_request", "push", "schedule", "workflow_dispatch"):
        if t not in on:
            problem(name, f"no '{t}' trigger")
    push = on.get("push") or {}
    if push.get("branches") != ["main"]:
        problem(name, "push must trigger on branch main")
    if "flotilla/promote/**" not in (push.get("tags") or []):
        problem(name, "push must trigger on the tags flotilla/promote/** (a promotion resumes the rollout)")
    crons = [s.get("cron", "") for s in on.get("schedule") or []]
    if not any(re.match(r"^\*/([1-9]|1[0-5]) \* \* \* \*$", c) for c in crons):
        problem(name, "a schedule of 15 minutes or less must pick up bakes that ended")
    if ((doc.get("defaults") or {}).get("run") or {}).get("shell") != "bash":
        problem(name, "defaults.run.shell must be bash (-eo pipefail: a plan piped to tee must fail the step)")
    for jname, job in (doc.get("jobs") or {}).items():
        if not str(job.get("container", "")).startswith("debian:bookworm"):
            problem(name, f"job {jname} must run in debian:bookworm, the release the package is built for")
        if any("sudo " in str(st.get("run", "")) for st in job.get("steps") or []):
            problem(name, f"job {jname}: no sudo in a container job (it runs as root, without sudo)")
    if doc.get("permissions") != {}:
        problem(name, "top-level permissions must be {} so each job asks for its own")
    jobs = doc.get("jobs") or {}
    plan, apply = jobs.get("plan"), jobs.get("apply")
    if not plan or not apply:
        problem(name, "jobs plan and apply are needed")
        return
    if "pull_request" not in plan.get("if", "") or "==" not in plan.get("if", ""):
        problem(name, "the plan job runs for pull requests only")
    if "pull_request" not in apply.get("if", "") or "!=" not in apply.get("if", ""):
        problem(name, "the apply job runs for every event but pull requests")
    if (plan.get("permissions") or {}).get("contents") != "read":
        problem(name, "the plan job's contents permission must be read: it cannot push")
    if (apply.get("permissions") or {}).get("contents") != "write":
        problem(name, "the apply job pushes the note: contents: write")
    conc = apply.get("concurrency") or {}
    if not conc.get("group") or "${{" in str(conc.get("group")) or conc.get("cancel-in-progress") is not False:
        problem(name, "the apply job needs one fixed concurrency group, never cancelled in progress")
    if "secrets." in yaml.safe_dump(plan):
        problem(name, "the plan job must not use secrets (pull requests run it)")
    fork_steps = [s for s in plan.get("steps") or [] if "FORK == 'true'" in str(s.get("if", ""))]
    own_steps = [s for s in plan.get("steps") or [] if "FORK == 'false'" in str(s.get("if", ""))]
    if not fork_steps or not own_steps:
        problem(name, "the plan job needs a step for forks and one for the repository's own branches")
    for s in fork_steps:
        for words in invocations(s["run"]):
            if words[:1] == ["plan"] and "--offline" not in words:
                problem(name, f"fork step {s.get('name')!r}: plan must be --offline (no secrets)")
            if words[:1] == ["plan"] and "--pr" in words:
                problem(name, f"fork step {s.get('name')!r}: no comment for a fork")
    for s in own_steps:
        if not any("--pr" in w for w in invocations(s["run"])):
            problem(name, f"step {s.get('name')!r}: the plan must keep its comment with --pr")
    rolled = [s for s in apply.get("steps") or [] if any(w[:1] == ["apply"] for w in invocations(s.get("run", "")))]
    if not rolled or not re.search(r'"\$code" = 5', rolled[0]["run"]):
        problem(name, "the apply step must accept exit code 5 (waiting) as success")


def check_gitlab(name, doc):
    rules = " ".join(str(r.get("if", "")) for r in (doc.get("workflow") or {}).get("rules") or [])
    for need in ("merge_request_event", "CI_DEFAULT_BRANCH", "CI_COMMIT_TAG", "schedule", "web"):
        if need not in rules:
            problem(name, f"workflow rules must admit pipelines for {need}")
    if "flotilla\\/promote\\/" not in rules:
        problem(name, "the tag rule must match flotilla/promote/ tags")
    apply = doc.get("flotilla-apply") or {}
    if not apply.get("resource_group"):
        problem(name, "flotilla-apply needs a resource_group: two rollouts never overlap")
    text = Path(name).read_text()
    if "CI_JOB_TOKEN cannot post commit" not in text:
        problem(name, "the status token must be documented (CI_JOB_TOKEN cannot post commit statuses)")
    plan = doc.get("flotilla-plan") or {}
    script = "\n".join(plan.get("script") or [])
    calls = invocations(script)
    if not any("--offline" in w and "--pr" not in w for w in calls):
        problem(name, "a merge request from a fork is planned --offline, without --pr")
    if not any("--pr" in w for w in calls):
        problem(name, "the plan note is kept with --pr")


def main():
    flotilla, tdir = sys.argv[1], Path(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "--print-step":
        doc = yaml.safe_load((tdir / sys.argv[4]).read_text())
        for step in doc["jobs"][sys.argv[5]]["steps"]:
            if step.get("name") == sys.argv[6]:
                print(step["run"])
                return 0
        print(f"no step {sys.argv[6]!r} in job {sys.argv[5]}", file=sys.stderr)
        return 1
    cmds, cache, count = commands(flotilla), {}, 0
    files = sorted(tdir.glob("*.yml"))
    if not files:
        problem(str(tdir), "no templates")
    for path in files:
        doc = yaml.safe_load(path.read_text())
        gitlab = "gitlab" in path.name
        for where, script, _job, _step in (scripts_gitlab if gitlab else scripts_github)(doc):
            if "${{" in script:
                problem(f"{path.name}, {where}", "a ${{ }} expansion inside a script (pass it through env:)")
            for words in invocations(script):
                check_invocation(f"{path.name}, {where}", words, flotilla, cmds, cache)
                count += 1
        (check_gitlab if gitlab else check_github)(str(path), doc)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(files)} templates, {count} flotilla invocations checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
