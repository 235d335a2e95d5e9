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
scripts (script injection), exit code 5 accepted by apply. And the shards
(SPEC 4): apply is a matrix (GitHub) or `parallel:` (GitLab) of N jobs, each
running `flotilla apply --repo <this repository> --rev <one commit for all>
--shard K/N` with K and N from the matrix (CI_NODE_INDEX/CI_NODE_TOTAL),
pushing through flotilla itself, and nothing that runs the N jobs one at a
time (GitHub: the concurrency group is the workflow's, not the job's;
GitLab: the resource_group is on the job triggering the shards' pipeline).

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


# ---- the shards ----

def option_value(words, name):
    """The value of option NAME in an invocation, or None."""
    for i, w in enumerate(words):
        if w == name and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(name + "="):
            return w.split("=", 1)[1]
    return None


def variable(word):
    """NAME when the word is exactly "$NAME" or "${NAME}", else None."""
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", word or "")
    return m.group(1) if m else None


def expr(text):
    """A ${{ }} expression without its braces and spaces, or None."""
    m = re.fullmatch(r"\$\{\{\s*(.*?)\s*\}\}", str(text).strip())
    return m.group(1) if m else None


def github_env(job, step, word):
    """What a "$NAME" word of a step's script is set to in its env:, or None."""
    var = variable(word)
    if var is None:
        return None
    env = dict(job.get("env") or {})
    env.update(step.get("env") or {})
    return None if env.get(var) is None else str(env[var])


# The workflow's group: one fixed group for every event but pull_request.
WORKFLOW_GROUP = re.compile(
    r"github\.event_name\s*==\s*'pull_request'\s*&&\s*(.+?)\s*\|\|\s*'([A-Za-z0-9._-]+)'")


def check_github_concurrency(name, doc, apply):
    if apply.get("concurrency") is not None:
        problem(name, "the apply job must have no concurrency of its own: it would run the shards one "
                      "at a time (the first waits at the first barrier for shards that cannot start); "
                      "the group belongs to the workflow")
    conc = doc.get("concurrency")
    if not isinstance(conc, dict) or conc.get("cancel-in-progress") is not False:
        problem(name, "the workflow needs a concurrency group, never cancelled in progress: "
                      "two rollouts never overlap")
        return
    group = str(conc.get("group") or "")
    inner = expr(group)
    m = WORKFLOW_GROUP.fullmatch(inner) if inner is not None else None
    if not group or ("${{" in group and not m):
        problem(name, "the workflow's concurrency group must be one fixed group for every event but "
                      "pull_request (${{ github.event_name == 'pull_request' && <per pull request> || "
                      "'<fixed>' }})")
    elif m and not re.search(r"github\.event\.pull_request\.number|github\.run_id|github\.head_ref", m.group(1)):
        problem(name, "the pull requests' concurrency group must differ from the rollouts' "
                      "(by the pull request's number)")


def check_github_shards(name, jobs, apply):
    strategy = apply.get("strategy") or {}
    shards = (strategy.get("matrix") or {}).get("shard")
    n = len(shards) if isinstance(shards, list) else 0
    if not n or shards != list(range(1, n + 1)):
        problem(name, "the apply job needs a matrix of shards: shard: [1, 2, ..., N]")
        n = 0
    if strategy.get("fail-fast") is not False:
        problem(name, "the shards' matrix needs fail-fast: false (a failed shard must not cancel the others)")
    if "max-parallel" in strategy and (not isinstance(strategy["max-parallel"], int) or strategy["max-parallel"] < n):
        problem(name, "max-parallel below N: the shards must all run at the same time")
    steps = [s for s in apply.get("steps") or []
             if any(w[:1] == ["apply"] for w in invocations(s.get("run", "")))]
    for s in apply.get("steps") or []:
        if re.search(r"\bgit\s+push\b", str(s.get("run", ""))):
            problem(name, f"step {s.get('name')!r}: no git push: flotilla pushes the notes itself (--repo URL)")
    needs = apply.get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    for s in steps:
        for words in invocations(s["run"]):
            if words[:1] != ["apply"]:
                continue
            where = f"step {s.get('name')!r}"
            shard = github_env(apply, s, option_value(words, "--shard"))
            k_n = expr(shard.split("/", 1)[0]) if shard and "/" in shard else None
            total = shard.split("/", 1)[1] if k_n else ""
            if k_n != "matrix.shard" or not (expr(total) == "strategy.job-total" or total == str(n)):
                problem(name, f"{where}: flotilla apply needs --shard \"$VAR\", VAR set to "
                              "${{ matrix.shard }}/${{ strategy.job-total }}")
            if re.sub(r"[{}]", "", option_value(words, "--shard-run") or "") != "$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT":
                problem(name, f"{where}: flotilla apply needs --shard-run \"$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT\" "
                              "(the shards of one attempt, not a halted one's records)")
            repo = github_env(apply, s, option_value(words, "--repo")) or ""
            if "github.repository" not in repo or not repo.strip().endswith(".git"):
                problem(name, f"{where}: flotilla apply needs --repo \"$VAR\", VAR set to this "
                              "repository's URL (${{ github.server_url }}/${{ github.repository }}.git)")
            token = expr(github_env(apply, s, "$FLOTILLA_GIT_TOKEN") or "")
            if token not in ("github.token", "secrets.GITHUB_TOKEN"):
                problem(name, f"{where}: FLOTILLA_GIT_TOKEN must be the job's token (${{{{ github.token }}}}), "
                              "to fetch and push the notes")
            rev = expr(github_env(apply, s, option_value(words, "--rev")) or "") or ""
            m = re.fullmatch(r"needs\.([A-Za-z0-9_-]+)\.outputs\.[A-Za-z0-9_-]+", rev)
            if not m or m.group(1) not in needs or m.group(1) not in jobs:
                problem(name, f"{where}: --rev must be one commit for every shard: \"$VAR\", VAR set to "
                              "the output of a job the apply job needs")


def check_gitlab_shards(name, doc, text):
    trigger = doc.get("flotilla-apply") or {}
    m = re.search(r"include: \{ local: (\S+) \}", text)
    target = (trigger.get("trigger") or {}) if isinstance(trigger.get("trigger"), dict) else {}
    if not m or target.get("include") != m.group(1) or target.get("strategy") != "depend":
        problem(name, "flotilla-apply must trigger this file again as the shards' child pipeline "
                      "(trigger: include: the path its header names, strategy: depend)")
    never = [str(r.get("if", "")) for r in trigger.get("rules") or [] if r.get("when") == "never"]
    if not any("parent_pipeline" in r for r in never):
        problem(name, "flotilla-apply must not run in its own child pipeline (a rule for parent_pipeline, when: never)")
    shards = [(jname, job) for jname, job in doc.items() if isinstance(job, dict)
              and any(w[:1] == ["apply"] for w in invocations("\n".join(job.get("script") or [])))]
    if not shards:
        problem(name, "no job runs flotilla apply")
    for jname, job in shards:
        script = "\n".join(job.get("script") or [])
        n = job.get("parallel")
        if not isinstance(n, int) or n < 1:
            problem(name, f"{jname} needs parallel: N (the shards)")
        if job.get("resource_group"):
            problem(name, f"{jname}: no resource_group on the shards: it would run them one at a time "
                          "(the first waits at the first barrier); flotilla-apply holds it")
        rules = [str(r.get("if", "")) for r in job.get("rules") or [] if r.get("when") != "never"]
        if not rules or any("parent_pipeline" not in r for r in rules):
            problem(name, f"{jname} runs only in the child pipeline (rules: parent_pipeline), "
                          "under flotilla-apply's resource_group")
        if re.search(r"\bgit\s+push\b", script):
            problem(name, f"{jname}: no git push: flotilla pushes the notes itself (--repo URL)")
        if not re.search(r'"\$code" = 5', script):
            problem(name, f"{jname} must accept exit code 5 (waiting) as success")
        variables = job.get("variables") or {}
        token = variable(str(variables.get("FLOTILLA_GIT_TOKEN", "")))
        if token is None or token == "CI_JOB_TOKEN":
            problem(name, f"{jname}: FLOTILLA_GIT_TOKEN must be a project access token variable "
                          "(CI_JOB_TOKEN cannot push)")
        needs = job.get("needs") or []
        for words in invocations(script):
            if words[:1] != ["apply"]:
                continue
            shard = option_value(words, "--shard") or ""
            if re.sub(r"[{}]", "", shard) != "$CI_NODE_INDEX/$CI_NODE_TOTAL":
                problem(name, f"{jname}: flotilla apply needs --shard \"$CI_NODE_INDEX/$CI_NODE_TOTAL\"")
            if re.sub(r"[{}]", "", option_value(words, "--shard-run") or "") != "$CI_PIPELINE_ID":
                problem(name, f"{jname}: flotilla apply needs --shard-run \"$CI_PIPELINE_ID\" "
                              "(the shards of one pipeline; a retried job rejoins them)")
            repo = str(variables.get(variable(option_value(words, "--repo")) or "", ""))
            if "CI_PROJECT_PATH" not in repo or not repo.endswith(".git"):
                problem(name, f"{jname}: flotilla apply needs --repo \"$VAR\", VAR set to this "
                              "project's URL (${CI_SERVER_URL}/${CI_PROJECT_PATH}.git)")
            rev = variable(option_value(words, "--rev"))
            made = [need for need in needs if isinstance(doc.get(need), dict)
                    and ((doc[need].get("artifacts") or {}).get("reports") or {}).get("dotenv")
                    and f"{rev}=" in "\n".join(doc[need].get("script") or [])]
            if not rev or not made:
                problem(name, f"{jname}: --rev must be one commit for every shard: \"$VAR\", VAR from "
                              "the dotenv report of a job it needs")


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
    check_github_concurrency(name, doc, apply)
    check_github_shards(name, jobs, apply)
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
    if "parent_pipeline" not in rules:
        problem(name, "workflow rules must admit the shards' child pipeline (parent_pipeline)")
    apply = doc.get("flotilla-apply") or {}
    if not apply.get("resource_group"):
        problem(name, "flotilla-apply needs a resource_group: two rollouts never overlap")
    text = Path(name).read_text()
    check_gitlab_shards(name, doc, text)
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
