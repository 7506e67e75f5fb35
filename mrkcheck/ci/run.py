"""Running a project file's entries, and the CI reports of any check (JUnit, JSON, GitHub).

``mrkcheck check`` decides when the project file applies (:mod:`mrkcheck.cli.check`) and calls
:func:`run_project`; a one-instance check writes its CI reports with :func:`report_single`.
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
from mrkcheck.check.checker import Checker
from mrkcheck.check.report import clear_progress, progress_printer, status_printer
from mrkcheck.check.result import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OUT_OF_MEMORY,
    INTERRUPTED,
    OUT_OF_MEMORY,
    CheckResult,
)
from mrkcheck.ci.project import CAUGHT, Entry, Project
from mrkcheck.ci.reports import (
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
from mrkcheck.traces.itf import write_traces

# How a cut-short entry stopped -> why the entries after it are not run.
STOPS = {INTERRUPTED: NOT_RUN_INTERRUPTED, OUT_OF_MEMORY: NOT_RUN_OUT_OF_MEMORY}

# Flags that describe one instance: given any of them, ``check`` ignores the project file (each
# project entry sets its own symmetry; the limits and --no-deadlock apply to every entry).


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
    interrupts.enter(f"entry {entry.name}: building the model")
    model = entry.build()
    checker = (
        Checker(model)
        .symmetry(entry.symmetry)
        .liveness(entry.checks_liveness and args.liveness is not False)
        .deadlock(entry.deadlock and args.deadlock)
        .limits(
            _first(args.max_states, entry.max_states),
            _first(args.max_depth, entry.max_depth),
            _first(args.max_seconds, entry.max_seconds),
        )
        .stop_when_all_violated(entry.expect == CAUGHT)
        .stop_at_first_violation(not getattr(args, "keep_going", False))
        .independence(getattr(args, "independence", True))
        .workers(getattr(args, "workers", 1))
        .cluster(getattr(args, "cluster", None))
        .progress(progress_printer(), status_printer(f"{entry.name}: liveness"))
        .phases(f"entry {entry.name}: ")
        .backend(getattr(args, "backend", "explicit"))
    )
    result = checker.run()
    clear_progress()
    if entry.mutant:
        result.options["mutant"] = entry.mutant
    result.incomplete_ok = getattr(args, "allow_incomplete", False)
    has_traces = result.deadlock is not None or any(r.trace is not None for r in result.properties)
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
