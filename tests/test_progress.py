"""Progress off a terminal: CI logs and pipes get a full line every LOG_PERIOD seconds (as TLC
prints one a minute), so a long run is never silent; ``--quiet`` silences it."""

from __future__ import annotations

import pytest

from mrkcheck.check import explicit, report
from mrkcheck.cli import main


@pytest.fixture
def every_call(monkeypatch):
    monkeypatch.setattr(report, "LOG_PERIOD", 0.0)
    monkeypatch.setattr(explicit, "PROGRESS_INTERVAL", 0.0)


def progress_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("progress: ")]


def test_check_prints_progress_lines_in_a_log(every_call, capsys):
    assert main(["check", "kms"]) == 0
    lines = progress_lines(capsys.readouterr().err)
    assert any("distinct" in line and "queue" in line for line in lines)
    assert any(line.startswith("progress: liveness: ") for line in lines)
    assert "\r" not in "".join(lines)  # full lines, no terminal control characters


def test_quiet_silences_progress(every_call, capsys):
    assert main(["check", "kms", "--quiet"]) == 0
    assert progress_lines(capsys.readouterr().err) == []


def test_prove_prints_bmc_progress_in_a_log(every_call, capsys):
    assert main(["prove", "twophase", "--rm", "2", "--depth", "2"]) == 0
    assert any(
        line.startswith("progress: bmc: ") for line in progress_lines(capsys.readouterr().err)
    )


def test_without_a_period_elapsed_a_log_stays_quiet(capsys):
    assert main(["check", "kms", "--regions", "2", "--no-liveness"]) == 0
    assert progress_lines(capsys.readouterr().err) == []
