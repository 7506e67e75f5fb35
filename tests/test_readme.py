"""The README is executable: every ``mrkcheck`` command of its shell blocks (and of docs/*.md) runs
here with the exit code the document states, in a fresh temporary folder, with the venv's
``mrkcheck`` on PATH, and leaves no file there that git would list as untracked.

The convention (``# exit 12``, ``# slow``, ``# skip``) is described in tools/readme_commands.py
and at the top of the README's usage block. New commands are picked up as they are written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tools.readme_commands import (
    BIN,
    ROOT,
    Command,
    commands,
    documented_commands,
    fresh_folder,
    parse_line,
    run,
    untracked,
)

TIMEOUT, SLOW_TIMEOUT = 300, 3600  # a hang (a server not tagged skip) fails instead of blocking
ALL = documented_commands()


def _param(command: Command):
    marks = [pytest.mark.slow] if command.slow else []
    if command.skip:
        marks.append(pytest.mark.skip(reason=f"tagged skip in {command.id}: {command.note}"))
    return pytest.param(command, id=f"{command.id} {command.text}", marks=marks)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """One working folder per fenced block, shared by its commands (run in document order)."""
    made: dict[tuple[str, int], Path] = {}

    def folder(command: Command) -> Path:
        key = (command.source, command.block)
        if key not in made:
            made[key] = fresh_folder(tmp_path_factory.mktemp("readme"))
        return made[key]

    return folder


@pytest.mark.parametrize("command", [_param(c) for c in ALL])
def test_documented_command(command: Command, folders):
    assert (BIN / "mrkcheck").exists(), f"no mrkcheck next to {sys.executable}: pip install -e ."
    # a server started in the background would outlive the test: such lines are tagged skip
    assert not command.text.rstrip().endswith("&"), f"{command.id}: tag a background command skip"
    folder = folders(command)
    ran = run(command, folder, SLOW_TIMEOUT if command.slow else TIMEOUT)
    tail = "\n".join((ran.stdout + ran.stderr).splitlines()[-15:])
    assert ran.returncode == command.exit_code, (
        f"{command.id}: `{command.text}` exited {ran.returncode}, the document says "
        f"{command.exit_code}:\n{tail}"
    )
    assert "Traceback" not in ran.stderr, tail
    left = untracked(folder)
    assert not left, f"{command.id}: `{command.text}` left files git would list: {left}"


# --- the convention itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("mrkcheck check", ("mrkcheck check", 0, False, False, "")),
        ("$ mrkcheck check  # exit 12", ("mrkcheck check", 12, False, False, "")),
        (
            "mrkcheck check --regions 4   # slow, exit 13: liveness",
            ("mrkcheck check --regions 4", 13, True, False, "liveness"),
        ),
        (
            "mrkcheck serve  # skip: waits for Ctrl-C",
            ("mrkcheck serve", 0, False, True, "waits for Ctrl-C"),
        ),
        (  # a comment that does not begin with tags is plain text, even with a colon in it
            "mrkcheck check --regions 4  # names: --regions us-east-1,eu-west-1",
            ("mrkcheck check --regions 4", 0, False, False, "names: --regions us-east-1,eu-west-1"),
        ),
        ("mrkcheck check  # a slow exit", ("mrkcheck check", 0, False, False, "a slow exit")),
    ],
)
def test_comment_tags(line, expected):
    assert parse_line(line) == expected


def test_only_shell_blocks_are_run(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```bash\npip install x\nmrkcheck list models\n```\n"
        "```\n$ mrkcheck check   # sample output, not run\n```\n"
        "```console\n$ mrkcheck check --mutant m  # exit 12\n. .venv/bin/activate\n```\n"
        "```sh\n.venv/bin/mrkcheck list models | head -1\n```\n"
    )
    found = commands(doc, skip_first_block=True)
    assert [(c.text, c.exit_code, c.block, c.line) for c in found] == [
        ("mrkcheck check --mutant m", 12, 2, 9),
        ("mrkcheck list models | head -1", 0, 3, 13),
    ]


def test_the_readme_has_commands_and_says_how_to_reach_mrkcheck():
    readme = [c for c in ALL if c.source == "README.md"]
    assert len(readme) >= 15
    assert any(c.exit_code == 12 for c in readme)
    assert ". .venv/bin/activate" in (ROOT / "README.md").read_text()
