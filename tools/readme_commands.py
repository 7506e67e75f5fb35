"""The ``mrkcheck`` commands of README.md and docs/*.md, as ``tests/test_readme.py`` runs them and
``benchmarks/bench_readme.py`` times them.

The convention, stated where the README's commands begin:

- Commands are the lines of a fenced block tagged ``bash``, ``sh``, ``shell`` or ``console`` that
  start with ``mrkcheck`` (or ``$ mrkcheck``, or ``.venv/bin/mrkcheck``, run as ``mrkcheck``).
  They run with bash's ``pipefail``, so ``mrkcheck ... | head`` states mrkcheck's exit code. Other lines (``. .venv/bin/activate``, ``cd``) and
  untagged blocks (sample output, synopses) are not run. The README's first block (installing and
  the test suite) is CI's own job and is not run again.
- A command's trailing comment may begin with tags, separated by commas and ended by ``:`` or the
  end of the line: ``exit N`` (the exit code the command must give; without it, 0), ``slow`` (over
  about 20 s: run only by ``pytest -m slow``), ``skip`` (never run: a server that waits for
  Ctrl-C; say why after the colon). Any other comment is plain text.
  Examples: ``# exit 12: a seeded bug``, ``# slow: 4 Regions with liveness``,
  ``# slow, exit 13``.
- The commands of one block run in order, in one fresh temporary folder holding a copy of the
  repository's ``mrkcheck.toml``, ``.gitignore`` and ``examples/`` (what a user has in a fresh clone's root), so a
  command may read what an earlier one of its block wrote.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin folder, which holds its ``mrkcheck``
# what a fresh clone's root holds that commands read (the project file names the examples)
COPIED = ("mrkcheck.toml", ".gitignore", "examples")
SHELL_TAGS = ("bash", "sh", "shell", "console")
TAG = re.compile(r"exit (\d+)|slow|skip")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
VENV = ".venv/bin/"  # ``.venv/bin/mrkcheck`` is the venv's mrkcheck, first on PATH here
_COMMENT = re.compile(r"\s#\s?")  # a comment starts at " #"; "#" inside a word is not one


@dataclass(frozen=True)
class Command:
    """One runnable line: where it is, what to run, and what the document says it gives."""

    source: str  # "README.md"
    line: int  # 1-based line number in the source
    block: int  # index of the fenced block in the source
    text: str  # the command, without prompt or comment
    exit_code: int = 0
    slow: bool = False
    skip: bool = False
    note: str = ""  # the comment's plain text

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


def parse_line(raw: str) -> tuple[str, int, bool, bool, str]:
    """``(command, exit code, slow, skip, note)`` of one line of a shell block."""
    text = raw.strip().removeprefix("$ ").strip()
    found = _COMMENT.search(text)
    if not found:
        return text, 0, False, False, ""
    command, comment = text[: found.start()].rstrip(), text[found.end() :].strip()
    head, _, rest = comment.partition(":")
    tags = [t.strip() for t in head.split(",")]
    if not all(TAG.fullmatch(t) for t in tags):
        return command, 0, False, False, comment
    code = next((int(m.group(1)) for t in tags if (m := TAG.fullmatch(t)) and m.group(1)), 0)
    return command, code, "slow" in tags, "skip" in tags, rest.strip()


def commands(path: Path, skip_first_block: bool = False) -> list[Command]:
    """The ``mrkcheck`` commands of one Markdown file's shell blocks."""
    found: list[Command] = []
    fence, tag, block = "", "", -1
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        opening = _FENCE.match(raw)
        if opening and not fence:
            fence, tag, block = opening.group(2), opening.group(3).lower(), block + 1
            continue
        if fence and raw.strip().startswith(fence[0] * 3) and raw.strip().strip(fence[0]) == "":
            fence = ""
            continue
        if not fence or tag not in SHELL_TAGS or (skip_first_block and block == 0):
            continue
        line = raw.strip().removeprefix("$ ").removeprefix(VENV)
        if not (line == "mrkcheck" or line.startswith("mrkcheck ")):
            continue
        text, code, slow, skip, note = parse_line(line)
        source = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        found.append(Command(source, number, block, text, code, slow, skip, note))
    return found


def documented_commands(root: Path = ROOT) -> list[Command]:
    """Every command of README.md (its first block excepted) and of docs/*.md, in order."""
    found = commands(root / "README.md", skip_first_block=True)
    for doc in sorted((root / "docs").glob("*.md")):
        found += commands(doc)
    return found


def fresh_folder(path: Path) -> Path:
    """Make ``path`` look like a fresh clone's root to the commands: the project file, the
    .gitignore, and a git repository so that ``untracked`` can ask git what a command left."""
    path.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, path / name)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def run(command: Command, folder: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one command with bash in ``folder``, the venv's ``mrkcheck`` first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("GITHUB_ACTIONS", "MRKCHECK_DEBUG"):  # as a user's own shell has them
        env.pop(name, None)
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command.text],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def untracked(folder: Path) -> list[str]:
    """The files git would list as untracked in ``folder`` (the copied ones excepted)."""
    listed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [line[3:] for line in listed if line[3:].split("/")[0] not in COPIED]
