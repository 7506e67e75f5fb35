"""The command line explains itself: --version, and a mistyped flag names the intended one."""

from __future__ import annotations

import importlib.metadata

import pytest

from mrkcheck.cli import main


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"mrkcheck {importlib.metadata.version('mrkcheck')}"


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["check", "kms", "--propery", "one_key_per_region"], "--property"),
        (["check", "kms", "--max-sates", "3"], "--max-states"),
        (["prove", "kms", "--any-regons"], "--any-regions"),
        (["check", "kms", "--jsno=x.json"], "--json"),
    ],
)
def test_a_mistyped_flag_gets_did_you_mean(argv, meant, capsys):
    assert main(argv) == 150
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"did you mean '{meant}'?" in err[0]


def test_an_extra_word_is_one_line_without_a_suggestion(capsys):
    assert main(["check", "kms", "extra"]) == 150
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mrkcheck: unrecognized arguments: 'extra'"]
