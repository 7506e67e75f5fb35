"""``mrkcheck check``: one instance given on the command line, or the project file's entries.

``mrkcheck check`` with no model argument and no universe flags runs what the project file names
(``mrkcheck.toml``, or ``[tool.mrkcheck]`` in ``pyproject.toml``, in the current folder): that is
the command a CI job runs (:mod:`mrkcheck.ci.run`). Given a model or a universe flag it checks that
one instance, so a developer can still try a single instance in a folder that has a project file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.checker import BACKENDS, Checker
from mrkcheck.check.report import (
    clear_progress,
    coverage_table,
    progress_printer,
    status_printer,
    summary_text,
)
from mrkcheck.check.result import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OUT_OF_MEMORY,
    INTERRUPTED,
    OUT_OF_MEMORY,
    CheckResult,
)
from mrkcheck.ci.project import find_project, load_project
from mrkcheck.ci.run import report_single, run_project
from mrkcheck.cli import workflows
from mrkcheck.cli.common import (
    add_model_options,
    add_output_options,
    build_model,
    emit_report,
)
from mrkcheck.errors import UsageError, echo, output_file, positive_int, positive_seconds
from mrkcheck.registry import DEFAULT_MODEL
from mrkcheck.traces.itf import write_traces

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
    "workflow",
    "properties_from",
)


EXIT_CODES_HELP = f"""exit codes: 0 every property holds (or is a documented counterexample);
11 deadlock; 12 safety violation; 13 liveness violation; 14 a project's mutant escaped;
{EXIT_INCOMPLETE} incomplete: a limit (--max-states, --max-depth, --max-seconds) cut the search
before it was complete and no violation was found (0 with --allow-incomplete);
{EXIT_OUT_OF_MEMORY} out of memory; 75 evaluation error; {EXIT_INTERRUPTED} interrupted (Ctrl-C or
SIGTERM); 150 bad input; 255 internal error. Interrupted or out of memory, the results of the
finished phases are still printed and written (--json, --junit, --out)."""


def add_parser(sub: Any) -> None:
    check = sub.add_parser(
        "check",
        help="explore every reachable state and check properties",
        epilog=EXIT_CODES_HELP,
    )
    add_model_options(check)
    check.add_argument(
        "--symmetry",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="count each class of states equal up to a permutation of symmetric elements once",
    )
    check.add_argument(
        "--backend",
        choices=BACKENDS,
        default="explicit",
        help="the safety search: a state at a time (explicit, the default) or a whole "
        "breadth-first level at a time with numpy (vectorised: same counts and traces, faster "
        "on large instances)",
    )
    check.add_argument("--deadlock", action=argparse.BooleanOptionalAction, default=True)
    check.add_argument(
        "--independence",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when the model's key sets (parts) never interact, check one and conclude for all "
        "(--no-independence: search the whole product)",
    )
    check.add_argument(
        "--liveness",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="check 'eventually' properties under weak fairness of environment steps (default: "
        "yes, unless --symmetry; --liveness with --symmetry checks them on the unreduced graph)",
    )
    check.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        metavar="N",
        help="search with N processes (auto: one per core), states partitioned by hash; the "
        "same counts and traces",
    )
    check.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the partitioned search on the Dask scheduler at ADDRESS (tcp://host:8786), "
        "or on a local Dask cluster of --workers processes ('local')",
    )
    check.add_argument(
        "--max-states", type=positive_int, help="stop after this many distinct states"
    )
    check.add_argument("--max-depth", type=positive_int, help="stop at this BFS depth")
    check.add_argument("--max-seconds", type=positive_seconds, help="stop after this many seconds")
    check.add_argument(
        "--quiet",
        action="store_true",
        help="no progress on stderr (by default a live line on a terminal, a line a minute in logs)",
    )
    check.add_argument(
        "--continue",
        dest="keep_going",
        action="store_true",
        help="search on after the first violation, to find every violated property (by default "
        "the search stops at the first, as TLC does; liveness is then not checked)",
    )
    check.add_argument(
        "--allow-incomplete",
        action="store_true",
        help=f"a search cut by a limit with no violation found exits 0, not {EXIT_INCOMPLETE}",
    )
    add_output_options(check)
    check.add_argument(
        "--junit", metavar="FILE", type=output_file, help="JUnit XML: one test case per property"
    )
    check.add_argument(
        "--coverage", action="store_true", help="per action: successors fired, new states"
    )
    check.set_defaults(run=cmd_check)

    _add_project_options(check)
    workflows.add_options(check)


def _add_project_options(check: argparse.ArgumentParser) -> None:
    """``--project FILE``, ``--all`` (slow entries too) and ``--instance NAME``."""
    check.set_defaults(model=None)  # None: the project file decides, else DEFAULT_MODEL
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


def worker_count(text: str) -> int:
    """``--workers``: a whole number of at least 1, or ``auto`` for one per core."""
    if text.strip().lower() == "auto":
        return os.cpu_count() or 1
    return positive_int(text)


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


# --- one instance ---------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    workflows.apply(args)  # --workflow and friends select the workflow model
    if (code := route_check(args)) is not None:  # no model, no universe flag: the project file
        return code
    interrupts.enter("building the model")
    model, _ = build_model(args)
    checker = (
        Checker(model)
        .symmetry(args.symmetry)
        .liveness(args.liveness)
        .deadlock(args.deadlock)
        .independence(args.independence)
        .workers(args.workers)
        .cluster(args.cluster)
        .limits(args.max_states, args.max_depth, args.max_seconds)
        .stop_at_first_violation(not args.keep_going)
        .progress(progress_printer(args.quiet), status_printer("liveness", args.quiet))
        .backend(args.backend)
    )
    result = checker.run()
    clear_progress()
    if checker.liveness_note:
        print(f"note: {checker.liveness_note}", file=sys.stderr)
    if args.mutant:
        result.options["mutant"] = args.mutant
    result.incomplete_ok = args.allow_incomplete
    interrupts.enter(interrupts.REPORTING)
    written = write_traces(result, args.out) if args.out else []
    emit(result, args, written)
    if args.coverage:  # on stderr when stdout carries the JSON
        print(coverage_table(result), file=sys.stderr if args.json == "-" else sys.stdout)
    report_single(result, args)  # --junit; annotations on GitHub Actions
    note = ending_note(result)
    if note:
        print(note, file=sys.stderr)
    return result.exit_code


def ending_note(result: CheckResult) -> str | None:
    """One line on stderr when the run did not finish: which phase was cut, and how."""
    phase = result.cut_phase or "search"
    if result.stopped == INTERRUPTED:
        return f"mrkcheck: interrupted during {phase}: the results above are partial"
    if result.stopped == OUT_OF_MEMORY:
        return f"mrkcheck: out of memory during {phase}: the results above are partial"
    if not result.cut_by_limit:
        return None
    if result.exit_code == EXIT_INCOMPLETE:
        return (
            f"mrkcheck: incomplete: the {phase} stopped at a limit ({result.stopped}) before it "
            f"was complete; exit code {EXIT_INCOMPLETE} (--allow-incomplete accepts it)"
        )
    if result.incomplete_ok and not result.violations and result.deadlock is None:
        return f"mrkcheck: incomplete: the {phase} stopped at a limit ({result.stopped}), accepted"
    return None


def emit(result: CheckResult, args: argparse.Namespace, written: list[str]) -> None:
    emit_report(result.summary(), lambda: summary_text(result), args, written)
