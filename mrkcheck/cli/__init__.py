"""The ``mrkcheck`` command: the only module that sees every layer.

Exit codes follow TLC's: 0 all properties hold, 12 safety violation, 13 liveness violation,
11 deadlock, 75 evaluation error, 150 bad model or configuration, 255 internal error; and ours:
15 search cut by a limit with no violation found, 16 out of memory, 130 interrupted.
Bad input is one line on stderr, never a traceback; Ctrl-C, SIGTERM and lack of memory print and
write what was found so far.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Sequence

from mrkcheck import interrupts
from mrkcheck.check.compile import EvaluationError
from mrkcheck.check.report import evaluation_error_text
from mrkcheck.check.result import (
    EXIT_BAD_INPUT,
    EXIT_EVALUATION,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OUT_OF_MEMORY,
)
from mrkcheck.cli import check, conform, graph, prove, run, serve, simulate, trace
from mrkcheck.cli import list as listing
from mrkcheck.cli.common import Parser
from mrkcheck.errors import UsageError
from mrkcheck.lang.model import ModelError

# in the order of ``mrkcheck --help``
COMMANDS = (check, listing, prove, trace, graph, simulate, conform, serve, run)


def _version() -> str:
    try:
        return importlib.metadata.version("mrkcheck")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        return "(not installed)"


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="mrkcheck", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mrkcheck {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Ctrl-C and SIGTERM at any moment exit 130 without a traceback: the
    commands print what they have; a cut they did not expect ends here, naming the phase."""
    with interrupts.handled():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        interrupts.enter("start-up")
        parser = make_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"mrkcheck: interrupted during {interrupts.current()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        return _error_code(exc)


def _error_code(exc: Exception) -> int:
    """One line on stderr and the exit code of an error. After a signal, any error is taken for
    the interrupt: ctypes (Z3) turns a KeyboardInterrupt into an ArgumentError, and an
    interrupted solver answers "unknown", which may then read as an evaluation error."""
    if interrupts.pending():
        print(f"mrkcheck: interrupted during {interrupts.current()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, UsageError):
        print(f"mrkcheck: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, ModelError):
        print(f"mrkcheck: bad model or options: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, EvaluationError):
        print(f"mrkcheck: evaluation error: {exc}", file=sys.stderr)
        if exc.trace is not None:
            print(evaluation_error_text(exc.trace, exc.action, exc.expression))
        return EXIT_EVALUATION
    if isinstance(exc, MemoryError):
        print(f"mrkcheck: out of memory during {interrupts.current()}", file=sys.stderr)
        return EXIT_OUT_OF_MEMORY
    if isinstance(exc, BrokenPipeError):
        return 0
    if os.environ.get("MRKCHECK_DEBUG"):
        raise exc
    print(f"mrkcheck: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
