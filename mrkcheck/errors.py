"""What every command does with what a user types: one-line messages, "did you mean", output paths.

Bad input is answered with one short line on stderr and exit code 150 (DESIGN.md). Three things
keep that line short and useful whatever was typed:

- :func:`one_line` clips any echoed value to :data:`ECHO_LIMIT` characters and folds newlines, so
  a 10,000-character argument or a multi-line JSON value cannot flood a CI log;
- :func:`unknown_name` names the closest known name (``did you mean``) instead of listing every
  option, property or mutant (500-800 characters);
- :func:`output_file` and :func:`output_folder` check (and create the folders of) a report path
  *before* a run, so a typo in ``--json reports/x.json`` costs a second, not the result of a
  73-second run.

This module depends on nothing else in mrkcheck, so the model code can use it too.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

ECHO_LIMIT = 100  # characters of a user's value shown back in a message
STDOUT = "-"  # ``--json -``: the report goes to stdout, there is no path to check

_LONG_QUOTED = re.compile(rf"'([^'\n]{{{ECHO_LIMIT + 1},}})'")
_LONG_WORD = re.compile(rf"\S{{{ECHO_LIMIT + 1},}}")


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the cut marked by ``...``."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def echo(value: object) -> str:
    """A user's value for a message, at most :data:`ECHO_LIMIT` characters: a string quoted, any
    other value as JSON spells it (``null``, ``false``, ``[1, 2]``), as a file or header has it."""
    if isinstance(value, str):
        return repr(clip(value))
    return clip(json.dumps(value, default=repr))


def one_line(message: str) -> str:
    """A message fit for one line on stderr: newlines folded, long echoed values clipped."""
    flat = " ".join(message.splitlines())
    flat = _LONG_QUOTED.sub(lambda m: f"'{clip(m.group(1))}'", flat)
    return _LONG_WORD.sub(lambda m: clip(m.group(0)), flat)


class OneLineError(Exception):
    """Base of the errors about what a user gave: the message is made one line when raised, so
    every place that prints it gets the short form."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))


class UsageError(OneLineError):
    """Bad command-line input: printed as one line, exit code 150."""


def unknown_name(kind: str, name: str, known: Iterable[str], hint: str = "") -> str:
    """``unknown property 'x'; did you mean 'y'?``, else a short ``hint`` such as where the list
    is (``see: mrkcheck list properties``): never the list itself, 500-800 characters of it."""
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    if close:
        return f"unknown {kind} {echo(name)}; did you mean {close[0]!r}?"
    return f"unknown {kind} {echo(name)}" + (f" ({hint})" if hint else "")


def is_blank(text: str) -> bool:
    """Empty or whitespace only: a CI variable that was never set (``--mutant "$M"``)."""
    return not text.strip()


# --- output paths ---------------------------------------------------------------------------------


class OutputPathError(UsageError):
    """A report or trace path that cannot be written (exit 150, before any work)."""


def output_file(path: str) -> str:
    """Check that a report file can be written, creating its folder; ``-`` is stdout."""
    if path != STDOUT:
        _checked(path, _check_file)
    return path


def output_folder(path: str) -> str:
    """Check that a folder can be written into, creating it (and its parents) if needed."""
    return _checked(path, _check_folder)


def _checked(path: str, check: Callable[[Path, str], None]) -> str:
    """Run ``check``; the operating system's refusals (no space, name too long, read-only) are
    a one-line error too."""
    try:
        check(Path(path), path)
    except OSError as exc:
        raise OutputPathError(f"cannot write {echo(path)}: {exc.strerror or exc}") from None
    return path


def _check_file(target: Path, given: str) -> None:
    if target.is_dir():
        raise OutputPathError(f"{echo(given)} is a folder: give a file name")
    _make_folder(target.parent, given)
    existed = target.exists()
    with target.open("a", encoding="utf-8"):  # the only sure test (root, read-only mounts)
        pass
    if not existed:
        target.unlink()


def _check_folder(target: Path, given: str) -> None:
    if target.exists() and not target.is_dir():
        raise OutputPathError(f"{echo(given)} is a file, not a folder")
    _make_folder(target, given)
    with tempfile.TemporaryFile(dir=target):
        pass


def _make_folder(folder: Path, given: str) -> None:
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():  # mkdir would say "File exists"
        raise OutputPathError(f"cannot write {echo(given)}: {echo(str(blocker))} is not a folder")
    folder.mkdir(parents=True, exist_ok=True)


# --- limits: numbers above 0 (checked while parsing, and in the project file) ----------------------


def positive_int(text: str) -> int:
    """A limit on states or depth: a whole number of at least 1 (0 would check nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


MAX_SECONDS = 30 * 24 * 3600  # Z3 takes its timeout in milliseconds as a 32-bit number


def positive_seconds(text: str) -> float:
    """A time limit: seconds above 0 and at most 30 days (nan, inf, 1e308 are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number of seconds, not {text!r}") from None
    if not (0 < value <= MAX_SECONDS):  # also false for nan
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_SECONDS} (30 days), not {text}"
        )
    return value
