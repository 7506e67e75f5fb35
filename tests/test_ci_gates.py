"""CI's static gates (``.ci/gates``, which ``.ci/run`` passes before pytest) fail on a finding.

Each test copies the checkout (the files git knows, as they are on disk) to a temporary folder,
plants one defect, and runs the very script CI runs there: it must exit non-zero and name the
defect. The copy borrows this checkout's ``.venv`` (the gates' tools) and, when present, its
``.mypy_cache``, which mypy revalidates file by file, so only what the defect touches is rechecked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of this checkout's tracked and untracked-but-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copy = tmp_path / "repo"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # an entry deleted on disk but still in the index is left out
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", copy / ".mypy_cache")
    return copy


def run_gates(checkout: Path) -> subprocess.CompletedProcess[str]:
    """Run .ci/gates in ``checkout`` as CI does (from outside the folder, to show it cds)."""
    return subprocess.run(
        ["bash", str(checkout / ".ci" / "gates")],
        cwd=checkout.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_the_gates_run_before_pytest_in_ci() -> None:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "set -euo pipefail" in lines
    assert lines.index(".ci/gates") < lines.index(".venv/bin/python -m pytest")


def test_a_lint_error_fails_the_gates(checkout: Path) -> None:
    append(checkout / "traces" / "values.py", "\n\ndef gate_probe() -> None:\n    unused = 1\n")
    result = run_gates(checkout)
    assert result.returncode != 0
    assert "F841" in result.stdout and "traces/values.py:" in result.stdout


def test_unformatted_code_fails_the_gates(checkout: Path) -> None:
    append(checkout / "traces" / "values.py", "\nGATE_PROBE = (1,2)\n")
    result = run_gates(checkout)
    assert result.returncode != 0
    assert "would be reformatted" in result.stdout and "traces/values.py:" in result.stdout


def test_dead_code_fails_the_gates(checkout: Path) -> None:
    append(
        checkout / "traces" / "values.py",
        '\n\ndef gate_probe() -> int:\n    return 1\n    print("never")\n',
    )
    result = run_gates(checkout)
    assert result.returncode != 0
    assert "traces/values.py" in result.stdout and "unreachable code" in result.stdout


@pytest.mark.slow  # seconds after .ci/gates has filled .mypy_cache; half a minute without it
def test_a_type_error_fails_the_gates_with_the_checkouts_path(checkout: Path) -> None:
    # model/ is installed as mrkcheck.model: the error must be found there, and reported under
    # the path a developer edits, not under the symlinked tree mypy was given.
    append(checkout / "model" / "rules.py", '\nGATE_PROBE: int = "not an int"\n')
    result = run_gates(checkout)
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("model/rules.py:") and "Incompatible types in assignment" in line
        for line in lines
    ), result.stdout + result.stderr
