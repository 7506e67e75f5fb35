"""CI reports of a check: JUnit XML, a JSON file and GitHub Actions annotations.

Every CI system reads JUnit XML, so a check is reported as tests: one test suite per checked
instance (the JUnit ``classname`` is the instance's name) and one test case per property, whose
failure text is the counterexample table a reader needs. A deadlock, when found, is one more
failing test case named ``deadlock``. An instance that was not run (slow, not asked for) reports
its properties as skipped, so the dashboard shows what CI did *not* check.

The verdict of a test case depends on what its instance expects:

- ``holds``: a property passes when it holds, or when it is violated and documented as expected to
  be (``expected = "violated"``); a violation is a failure. ``unknown`` (the search stopped at a
  limit, or a liveness property the explicit engine does not decide) is skipped, never passed.
- ``caught`` (a mutant entry): the property passes when violated (the mutant is caught); if it
  holds, the mutant escaped and the case fails.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrkcheck.check.report import step_list, trace_table
from mrkcheck.check.result import (
    EXIT_DEADLOCK,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_LIVENESS,
    EXIT_OK,
    EXIT_OUT_OF_MEMORY,
    EXIT_SAFETY,
    FIRST_VIOLATION,
    UNKNOWN,
    VIOLATED,
    CheckResult,
    PropertyResult,
)
from mrkcheck.lang.model import EVENTUALLY

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
EXPECT_HOLDS, EXPECT_CAUGHT = "holds", "caught"
EXIT_ESCAPED = 14  # a mutant the project file says is caught escaped (TLC: an assertion failed)
# Why an entry was not run when the project stopped before it (see cli_project.run_project).
NOT_RUN_INTERRUPTED, NOT_RUN_OUT_OF_MEMORY = "interrupted", "out of memory"

# Failure kinds, from the most to the least severe: the run's exit code is the first one's
# (as CheckResult.exit_code: safety, then liveness, then deadlock).
VIOLATION, LIVENESS, DEADLOCK, ESCAPED = "violation", "liveness", "deadlock", "escaped"
EXIT_CODES = {
    VIOLATION: EXIT_SAFETY,
    LIVENESS: EXIT_LIVENESS,
    DEADLOCK: EXIT_DEADLOCK,
    ESCAPED: EXIT_ESCAPED,
}


@dataclass
class Run:
    """One checked entry, as the reports see it. ``result`` is None when it was not run, and
    ``skipped`` then says why; ``properties`` names what it would have checked."""

    name: str
    description: str = ""
    result: CheckResult | None = None
    expect: str = EXPECT_HOLDS
    properties: list[str] = field(default_factory=list)
    skipped: str = ""
    file: str | None = None  # the project file, for annotations
    line: int | None = None


@dataclass
class Case:
    """One JUnit test case: a property of an instance (or the instance's deadlock)."""

    suite: str
    name: str
    outcome: str
    message: str = ""  # one line
    details: str = ""  # the failure text, or what a passed case found (a mutant's trace)
    kind: str = ""  # for a failure: violation, deadlock or escaped


# --- verdicts -------------------------------------------------------------------------------------


def cases(run: Run) -> list[Case]:
    """The test cases of one run, in property order (deadlock last)."""
    if run.result is None:
        return [Case(run.name, p, SKIPPED, run.skipped) for p in run.properties]
    verdict = _caught if run.expect == EXPECT_CAUGHT else _holds
    out = [verdict(run, r) for r in run.result.properties]
    deadlock = run.result.deadlock
    if deadlock is not None:
        message = f"deadlock: no action is enabled after {len(deadlock)} steps"
        out.append(Case(run.name, "deadlock", FAILED, message, trace_table(deadlock), DEADLOCK))
    return out


def _holds(run: Run, r: PropertyResult) -> Case:
    if r.status == UNKNOWN:
        return Case(run.name, r.name, SKIPPED, _unknown_reason(run.result, r))
    if r.status == VIOLATED and r.checked.expected == VIOLATED:
        message = f"documented counterexample found ({_steps(r)})"
        return Case(run.name, r.name, PASSED, message, counterexample_text(r))
    if r.status == VIOLATED:
        return Case(
            run.name,
            r.name,
            FAILED,
            f"{r.name} is violated on {run.description or run.name} ({_steps(r)})",
            counterexample_text(r),
            LIVENESS if r.checked.kind == EVENTUALLY else VIOLATION,
        )
    return Case(run.name, r.name, PASSED, _holds_message(run.result, r))


def _caught(run: Run, r: PropertyResult) -> Case:
    if r.status == VIOLATED:
        return Case(run.name, r.name, PASSED, f"caught ({_steps(r)})", counterexample_text(r))
    assert run.result is not None
    if r.status == UNKNOWN:
        message = f"not caught before the search stopped ({run.result.stopped}): {r.name}"
    else:
        s = run.result.stats
        message = f"mutant escaped: {r.name} holds on all {s.distinct:,} reachable states"
    where = f" of {run.description}" if run.description else ""
    return Case(run.name, r.name, FAILED, message + where, "", ESCAPED)


def _unknown_reason(result: CheckResult | None, r: PropertyResult) -> str:
    if r.checked.kind == EVENTUALLY and result is not None and result.cut_phase == "liveness":
        return f"liveness not checked: {result.stopped} during the liveness phase"
    if r.checked.kind == EVENTUALLY and result is not None and result.complete:
        return (
            "liveness not checked for this entry (symmetry on, liveness = false, or --no-liveness)"
        )
    stopped = result.stopped if result is not None else "not run"
    if stopped == FIRST_VIOLATION:
        return "unknown: the search stopped at the first violation (--continue finds every one)"
    return f"unknown: the search stopped ({stopped}) before a verdict"


def _holds_message(result: CheckResult | None, r: PropertyResult) -> str:
    if result is None:
        return "holds"
    return f"holds on {result.stats.distinct:,} distinct states"


def _steps(r: PropertyResult) -> str:
    if r.trace is None:
        return "no trace"
    n = len(r.trace)
    return f"counterexample of {n} step{'s' * (n != 1)}"


def counterexample_text(r: PropertyResult) -> str:
    """What a reader needs about a violated property: its rule, its doc and the trace table."""
    lines = []
    if r.checked.rule:
        lines.append(f"Rule: {r.checked.rule}")
    if r.checked.doc:
        lines.append(r.checked.doc)
    if r.trace is not None:
        lines.append(f"Counterexample ({len(r.trace)} steps):")
        lines.append(step_list(r.trace))
        lines.append(trace_table(r.trace))
    return "\n".join(lines)


def exit_code(runs: Iterable[Run]) -> int:
    """The exit code of a set of runs: 130 or 16 if they were cut short (Ctrl-C, out of memory);
    else the most severe failure's (12, then 13, 11, 14); else 15 if a limit cut a search;
    else 0. A result's ``incomplete_ok`` (--allow-incomplete) accepts the cut."""
    runs = list(runs)
    codes = {run.result.exit_code for run in runs if run.result is not None}
    not_run = {run.skipped for run in runs if run.result is None}
    if EXIT_INTERRUPTED in codes or NOT_RUN_INTERRUPTED in not_run:
        return EXIT_INTERRUPTED
    if EXIT_OUT_OF_MEMORY in codes or NOT_RUN_OUT_OF_MEMORY in not_run:
        return EXIT_OUT_OF_MEMORY
    kinds = {c.kind for run in runs for c in cases(run) if c.outcome == FAILED}
    for kind, code in EXIT_CODES.items():
        if kind in kinds:
            return code
    return EXIT_INCOMPLETE if EXIT_INCOMPLETE in codes else EXIT_OK


def totals(runs: Iterable[Run]) -> dict[str, int]:
    counts = {"tests": 0, PASSED: 0, FAILED: 0, SKIPPED: 0}
    for run in runs:
        for c in cases(run):
            counts["tests"] += 1
            counts[c.outcome] += 1
    return counts


# --- JUnit XML ------------------------------------------------------------------------------------


def junit_xml(runs: Sequence[Run], name: str = "mrkcheck") -> str:
    """JUnit XML in the common (Jenkins/Surefire) schema; times are the instances' search times."""
    root = ET.Element("testsuites", name=name)
    for run in runs:
        root.append(_suite(run))
    count = totals(runs)
    root.set("tests", str(count["tests"]))
    root.set("failures", str(count[FAILED]))
    root.set("errors", "0")
    root.set("skipped", str(count[SKIPPED]))
    root.set("time", _seconds(sum(_run_seconds(r) for r in runs)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(run: Run) -> ET.Element:
    found = cases(run)
    suite = ET.Element(
        "testsuite",
        name=run.name,
        tests=str(len(found)),
        failures=str(sum(c.outcome == FAILED for c in found)),
        errors="0",
        skipped=str(sum(c.outcome == SKIPPED for c in found)),
        time=_seconds(_run_seconds(run)),
    )
    props = ET.SubElement(suite, "properties")
    for key, value in _suite_properties(run):
        ET.SubElement(props, "property", name=key, value=value)
    for case in found:
        suite.append(_testcase(case))
    return suite


def _suite_properties(run: Run) -> list[tuple[str, str]]:
    out = [("description", run.description), ("expect", run.expect)]
    if run.result is not None:
        s = run.result.stats
        out += [
            ("model", run.result.model),
            ("distinct", str(s.distinct)),
            ("generated", str(s.generated)),
            ("depth", str(s.depth)),
            ("stopped", run.result.stopped),
        ]
        out += [(f"option.{k}", str(v)) for k, v in sorted(run.result.options.items())]
    return out


def _testcase(case: Case) -> ET.Element:
    # Per-property times do not exist (one search checks them all): the suite carries the time.
    element = ET.Element("testcase", classname=case.suite, name=case.name, time="0")
    if case.outcome == FAILED:
        failure = ET.SubElement(element, "failure", message=case.message, type=case.kind)
        failure.text = case.details or case.message
    elif case.outcome == SKIPPED:
        ET.SubElement(element, "skipped", message=case.message)
    elif case.details:
        ET.SubElement(element, "system-out").text = f"{case.message}\n{case.details}"
    return element


def _run_seconds(run: Run) -> float:
    return 0.0 if run.result is None else run.result.stats.seconds


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def write_junit(runs: Sequence[Run], path: str | Path) -> None:
    write_text(path, junit_xml(runs))


def write_text(path: str | Path, text: str) -> None:
    """Write a report, creating its folder: CI steps name ``reports/x.xml`` without a mkdir."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


# --- JSON -----------------------------------------------------------------------------------------


def json_report(runs: Sequence[Run], project: str | None = None) -> dict[str, Any]:
    """Everything a script needs: per run the check's summary and the verdict of each case."""
    return {
        "project": project,
        "exit_code": exit_code(runs),
        "totals": totals(runs),
        "runs": [_json_run(run) for run in runs],
    }


def _json_run(run: Run) -> dict[str, Any]:
    return {
        "name": run.name,
        "description": run.description,
        "expect": run.expect,
        "skipped": run.skipped or None,
        "summary": None if run.result is None else run.result.summary(),
        "cases": [
            {"name": c.name, "outcome": c.outcome, "kind": c.kind or None, "message": c.message}
            for c in cases(run)
        ],
    }


def json_text(runs: Sequence[Run], project: str | None = None) -> str:
    return json.dumps(json_report(runs, project), indent=2, sort_keys=True) + "\n"


# --- GitHub Actions -------------------------------------------------------------------------------


def github_annotations(runs: Iterable[Run]) -> list[str]:
    """``::error`` workflow commands, one per failed case: GitHub shows them on the run's summary
    page and, with ``file``/``line``, next to the project file's entry in a pull request."""
    lines = []
    for run in runs:
        for case in cases(run):
            if case.outcome != FAILED:
                continue
            where = ""
            if run.file:
                where = f"file={_escape_property(run.file)},"
                if run.line:
                    where += f"line={run.line},"
            title = _escape_property(f"mrkcheck {case.suite}: {case.name}")
            body = case.message + ("\n" + case.details if case.details else "")
            lines.append(f"::error {where}title={title}::{_escape_data(body)}")
    return lines


def _escape_data(text: str) -> str:
    """The escaping of GitHub's toolkit (``escapeData``): % first, then line breaks."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def step_summary(runs: Sequence[Run]) -> str:
    """A Markdown table for ``$GITHUB_STEP_SUMMARY``: one row per run."""
    rows = ["| instance | checked | verdict |", "| --- | --- | --- |"]
    for run in runs:
        found = cases(run)
        failed = [c for c in found if c.outcome == FAILED]
        if run.result is None:
            checked, verdict = "-", f"skipped ({run.skipped})"
        else:
            s = run.result.stats
            checked = f"{s.distinct:,} states, depth {s.depth}, {s.seconds:.1f}s"
            verdict = "❌ " + ", ".join(c.name for c in failed) if failed else "✅"
        rows.append(f"| {run.name} | {checked} | {verdict} |")
    return "\n".join(rows) + "\n"
