"""``mrkcheck check`` driven by a project file, and the CI reports of any check.

``mrkcheck check`` with no model argument and no universe flags runs what the project file names
(``mrkcheck.toml``, or ``[tool.mrkcheck]`` in ``pyproject.toml``, in the current folder): that is
the command a CI job runs. Given a model or a universe flag it checks that one instance, as before,
so a developer can still try a single instance in a folder that has a project file.

This module adds to ``mrkcheck check``'s parser (it is loaded through cli.py's extension hook)
rather than adding a subcommand: ``--project FILE``, ``--all`` (slow entries too) and
``--instance NAME``. ``--junit FILE`` is cli.py's, because a single-instance check writes one too.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.cli import (
    DEFAULT_MODEL,
    UsageError,
    _clear_progress,
    _progress_printer,
    _status_printer,
    write_traces,
)
from mrkcheck.inputs import echo
from mrkcheck.project import CAUGHT, Entry, Project, find_project, load_project
from mrkcheck.reports import (
    FAILED,
    NOT_RUN_INTERRUPTED,
    NOT_RUN_OUT_OF_MEMORY,
    PASSED,
    SKIPPED,
    Case,
    Run,
    cases,
    exit_code,
    github_annotations,
    json_text,
    step_summary,
    totals,
    write_junit,
    write_text,
)
from mrkcheck.result import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OUT_OF_MEMORY,
    INTERRUPTED,
    OUT_OF_MEMORY,
    CheckResult,
)

# How a cut-short entry stopped -> why the entries after it are not run.
STOPS = {INTERRUPTED: NOT_RUN_INTERRUPTED, OUT_OF_MEMORY: NOT_RUN_OUT_OF_MEMORY}

# Flags that describe one instance: given any of them, ``check`` ignores the project file (each
# project entry sets its own symmetry; the limits and --no-deadlock apply to every entry).
SINGLE_INSTANCE_FLAGS = (
    "model",
    "regions",
    "key_sets",
    "partitions",
    "rm",
    "set",
    "mutant",
    "property",
    "symmetry",
)


def register(sub: Any) -> None:
    """Add the project flags to the ``check`` subcommand."""
    check = sub.choices["check"]
    check.set_defaults(model=None)  # None: the project file decides, else cli.DEFAULT_MODEL
    check.add_argument(
        "--project",
        metavar="FILE",
        type=project_file,
        help="the project file (default: ./mrkcheck.toml, else [tool.mrkcheck] in ./pyproject.toml)",
    )
    check.add_argument(
        "--all",
        dest="all_entries",
        action="store_true",
        help="also run the project's entries marked slow",
    )
    check.add_argument(
        "--instance",
        action="append",
        metavar="NAME",
        help="run only this project entry (repeatable; mutant entries are named mutant:NAME)",
    )


# --- routing --------------------------------------------------------------------------------------


def project_file(path: str) -> str:
    """``--project FILE`` must name a file: checked while parsing, before anything runs."""
    try:
        found = Path(path).is_file()
    except OSError:  # e.g. a name too long for the file system
        found = False
    if not found:
        raise UsageError(f"no project file {echo(path)}")
    return path


def route_check(args: argparse.Namespace) -> int | None:
    """Run the project when one applies and return the exit code; otherwise fill in the default
    model (the parser leaves it None so that a missing model can be told apart) and return None."""
    path = project_path(args)
    if path is None:
        args.model = args.model or DEFAULT_MODEL
        return None
    return run_project(load_project(path), args)


def project_path(args: argparse.Namespace) -> Path | None:
    explicit = getattr(args, "project", None)
    single = [f for f in SINGLE_INSTANCE_FLAGS if getattr(args, f, None)]
    project_only = getattr(args, "instance", None) or getattr(args, "all_entries", False)
    if single and (explicit or project_only):
        flag = "--" + single[0].replace("_", "-") if single[0] != "model" else "a model argument"
        raise UsageError(
            f"{flag} checks one instance: it cannot be combined with --project, --instance or --all"
        )
    if single:
        return None
    if explicit:
        return Path(explicit)
    found = find_project(Path.cwd())
    if found is None and project_only:
        raise UsageError(
            "--instance and --all need a project file (mrkcheck.toml, or [tool.mrkcheck] in pyproject.toml)"
        )
    return found


# --- running a project ----------------------------------------------------------------------------


def run_project(project: Project, args: argparse.Namespace) -> int:
    """Check every selected entry, print one line each, then failures, then write the reports."""
    selected = {e.name for e in project.select(args.instance or (), args.all_entries)}
    quiet = args.json == "-"
    say = (lambda text: None) if quiet else print
    say(f"project {_relative(project.path)}")
    runs: list[Run] = []
    stop, cut = "", ""  # why and where the project was cut short (Ctrl-C, out of memory)
    width = max(len(e.name) for e in project.entries)
    for entry in project.entries:
        if args.instance and entry.name not in selected:
            continue  # named entries only: the others are not news
        if stop or entry.name not in selected:
            reason = STOPS[stop] if stop else _not_selected(entry, args)
            runs.append(_skipped_run(entry, project, reason))
        else:
            run, stop = _guarded_run(entry, project, args)
            runs.append(run)
            cut = _cut_where(run) if stop else ""
            if stop:
                interrupts.enter(interrupts.REPORTING)
        say(entry_line(runs[-1], width))
    interrupts.enter(interrupts.REPORTING)
    details = failure_text(runs)
    if details:
        say(details)
    say(totals_line(runs))
    _write_reports(runs, args, project)
    code = exit_code(runs)
    note = _ending_note(code, cut)
    if note:
        print(note, file=sys.stderr)
    return code


def _guarded_run(entry: Entry, project: Project, args: argparse.Namespace) -> tuple[Run, str]:
    """Run one entry; return it and how it was cut short ("" if it was not). Ctrl-C or lack of
    memory outside the search (building the model, writing traces) makes it a skipped entry,
    so that the entries already run are still reported."""
    interrupts.enter(f"entry {entry.name}")
    try:
        run = _run_entry(entry, project, args)
    except KeyboardInterrupt:
        return _skipped_run(entry, project, NOT_RUN_INTERRUPTED), INTERRUPTED
    except MemoryError:
        return _skipped_run(entry, project, NOT_RUN_OUT_OF_MEMORY), OUT_OF_MEMORY
    assert run.result is not None
    return run, run.result.stopped if run.result.stopped in STOPS else ""


def _cut_where(run: Run) -> str:
    phase = run.result.cut_phase if run.result is not None else "setup"
    return f"entry {run.name} ({phase or 'setup'})"


def _ending_note(code: int, cut: str) -> str | None:
    """Say on stderr why the exit code is not a verdict, and what was cut."""
    if code == EXIT_INTERRUPTED:
        return f"mrkcheck: interrupted during {cut}: the entries after it were not run"
    if code == EXIT_OUT_OF_MEMORY:
        return f"mrkcheck: out of memory during {cut}: the entries after it were not run"
    if code == EXIT_INCOMPLETE:
        return (
            "mrkcheck: incomplete: a limit cut an entry's search before it was complete, with no "
            f"violation found; exit code {EXIT_INCOMPLETE} (--allow-incomplete accepts it)"
        )
    return None


def _not_selected(entry: Entry, args: argparse.Namespace) -> str:
    return "slow: run with --all or --instance NAME" if entry.slow else "not selected"


def _run_entry(entry: Entry, project: Project, args: argparse.Namespace) -> Run:
    from mrkcheck.explicit import Limits, check

    interrupts.enter(f"entry {entry.name}: building the model")
    model = entry.build()
    interrupts.enter(f"entry {entry.name}: safety search")
    limits = Limits(
        _first(args.max_states, entry.max_states),
        _first(args.max_depth, entry.max_depth),
        _first(args.max_seconds, entry.max_seconds),
    )
    result = check(
        model,
        symmetry=entry.symmetry,
        deadlock=entry.deadlock and args.deadlock,
        limits=limits,
        progress=_progress_printer(),
        stop_when_all_violated=entry.expect == CAUGHT,
    )
    _clear_progress()
    if entry.checks_liveness and getattr(args, "liveness", True):
        from mrkcheck.liveness import add_liveness

        interrupts.enter(f"entry {entry.name}: liveness")
        add_liveness(result, model, progress=_status_printer(f"{entry.name}: liveness"))
        _clear_progress()
    if entry.mutant:
        result.options["mutant"] = entry.mutant
    result.incomplete_ok = getattr(args, "allow_incomplete", False)
    has_traces = result.deadlock is not None or any(r.trace for r in result.properties)
    if args.out and has_traces:
        write_traces(result, str(Path(args.out) / _folder_name(entry.name)))
    return _run(entry, project, result)


def _skipped_run(entry: Entry, project: Project, reason: str) -> Run:
    run = _run(entry, project, None)
    run.skipped = reason
    return run


def _run(entry: Entry, project: Project, result: CheckResult | None) -> Run:
    properties = [p.name for p in entry.build().properties] if result is None else []
    return Run(
        name=entry.name,
        description=entry.describe(),
        result=result,
        expect=entry.expect,
        properties=properties,
        file=_relative(project.path),
        line=entry.line,
    )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _relative(path: Path) -> str:
    """The path GitHub expects in an annotation: relative to the workspace (the current folder)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- text -----------------------------------------------------------------------------------------


def entry_line(run: Run, width: int = 28) -> str:
    """``PASS  name  states, depth, time  verdict`` on one line."""
    found = cases(run)
    if run.result is None:
        return f"SKIP  {run.name:{width}}  {run.skipped}"
    s = run.result.stats
    work = f"{s.distinct:>10,} states, depth {s.depth:>2}, {s.seconds:6.1f}s"
    mark = "FAIL" if any(c.outcome == FAILED for c in found) else "PASS"
    return f"{mark}  {run.name:{width}}  {work}  {_verdict(run, found)}"


def _verdict(run: Run, found: list[Case]) -> str:
    if run.expect == CAUGHT:
        return "; ".join(f"{c.name}: {c.message}" for c in found) or "nothing to catch"
    documented = sum(c.outcome == PASSED and c.details != "" for c in found)
    parts = [f"{sum(c.outcome == PASSED for c in found) - documented} hold"]
    if documented:
        parts.append(f"{documented} documented counterexample{'s' * (documented > 1)}")
    failed = [c.name for c in found if c.outcome == FAILED]
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    reasons = Counter(c.message for c in found if c.outcome == SKIPPED)
    parts += [f"{n} skipped ({reason})" for reason, n in reasons.items()]
    return ", ".join(parts)


def failure_text(runs: list[Run]) -> str:
    """Each failure in full: what failed and its counterexample table."""
    out = []
    for run in runs:
        for case in cases(run):
            if case.outcome == FAILED:
                out += ["", f"FAILED {case.suite}: {case.message}"]
                if case.details:
                    out.append(case.details)
    return "\n".join(out)


def totals_line(runs: list[Run]) -> str:
    t = totals(runs)
    ran = sum(r.result is not None for r in runs)
    return (
        f"{ran} of {len(runs)} entries checked: {t['tests']} test cases, {t[PASSED]} passed, "
        f"{t[FAILED]} failed, {t[SKIPPED]} skipped"
    )


# --- reports --------------------------------------------------------------------------------------


def _write_reports(runs: list[Run], args: argparse.Namespace, project: Project | None) -> None:
    """--junit, --json and, on GitHub Actions, annotations and the job summary."""
    if getattr(args, "junit", None):
        write_junit(runs, args.junit)
    if args.json is not None and project is not None:
        text = json_text(runs, str(project.path))
        if args.json == "-":
            sys.stdout.write(text)
        else:
            write_text(args.json, text)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(runs):
            print(line)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(step_summary(runs))


def report_single(result: CheckResult, args: argparse.Namespace) -> None:
    """The CI reports of a one-instance ``mrkcheck check`` (its JSON is cli.py's own)."""
    options = " ".join(f"{k}={v}" for k, v in sorted(result.options.items()))
    name = result.model + (f":{args.mutant}" if getattr(args, "mutant", None) else "")
    _write_reports(
        [Run(name=name, description=f"{result.model} {options}", result=result)], args, None
    )
