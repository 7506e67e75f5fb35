"""A search cut by a limit must not look like a pass: exit 15 unless --allow-incomplete.

The mutant ``sync_skips_rotation`` breaks ``sync_copies_shared_properties`` with a 4-step trace
(``mrkcheck check kms --mutant sync_skips_rotation`` prints it), so its violation lies at BFS
depth 5: a search cut at depth 3, or after 50 states, or at the first time check, cannot reach it,
and one allowed to depth 8 or 5,000 states does.
"""

from __future__ import annotations

import json

import pytest

from mrkcheck.check.result import EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK, EXIT_SAFETY
from mrkcheck.cli import main

MUTANT = ["--mutant", "sync_skips_rotation"]
# A limit that cuts the search before depth 5. The time limit is checked once at the start of
# every BFS level, so one microsecond always cuts it at the first level.
CUTS = [["--max-states", "50"], ["--max-depth", "3"], ["--max-seconds", "0.000001"]]
MODELS = [[], MUTANT]  # the correct model, and a mutant whose violation is beyond the cut


def _check(args: list[str], capsys) -> tuple[int, dict, str]:
    code = main(["check", "kms", "--no-liveness", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.mark.parametrize("model", MODELS, ids=["correct", "mutant"])
@pytest.mark.parametrize("cut", CUTS, ids=lambda c: c[0])
def test_a_cut_search_with_no_violation_exits_15(cut, model, capsys):
    code, summary, err = _check([*cut, *model], capsys)
    assert code == EXIT_INCOMPLETE
    assert summary["exit_code"] == EXIT_INCOMPLETE and not summary["complete"]
    assert summary["stopped"] == cut[0][2:].replace("-", "_")
    assert {p["status"] for p in summary["properties"]} <= {"holds", "unknown", "violated"}
    assert not [
        p
        for p in summary["properties"]
        if p["status"] == "violated" and p["expected"] != "violated"
    ]
    assert "incomplete" in err and "safety search" in err


@pytest.mark.parametrize("model", MODELS, ids=["correct", "mutant"])
@pytest.mark.parametrize("cut", CUTS, ids=lambda c: c[0])
def test_allow_incomplete_accepts_the_cut_and_still_says_so(cut, model, capsys):
    code, summary, err = _check([*cut, *model, "--allow-incomplete"], capsys)
    assert code == EXIT_OK and summary["exit_code"] == EXIT_OK
    assert not summary["complete"]
    assert "unknown" in {p["status"] for p in summary["properties"]}  # not turned into holds
    assert "incomplete" in err


@pytest.mark.parametrize("cut", [["--max-states", "5000"], ["--max-depth", "8"]])
def test_a_violation_found_before_the_cut_is_real(cut, capsys):
    code, summary, _ = _check([*cut, *MUTANT, "--continue"], capsys)  # on, to reach the limit
    assert code == EXIT_SAFETY
    assert summary["stopped"] == cut[0][2:].replace("-", "_")
    violated = {p["name"] for p in summary["properties"] if p["status"] == "violated"}
    assert "sync_copies_shared_properties" in violated


def test_a_limit_beyond_the_state_space_is_a_complete_pass(capsys):
    code, summary, err = _check(["--max-depth", "100"], capsys)
    assert code == EXIT_OK and summary["complete"] and "incomplete" not in err


BAD_LIMITS = [
    ("--max-states", "0"),
    ("--max-states", "-5"),
    ("--max-states", "1.5"),
    ("--max-depth", "0"),
    ("--max-depth", "-1"),
    ("--max-seconds", "0"),
    ("--max-seconds", "-1"),
    ("--max-seconds", "nan"),
    ("--max-seconds", "inf"),
    ("--max-seconds", "1e308"),
]


@pytest.mark.parametrize("flag,value", BAD_LIMITS)
def test_bad_limits_are_refused_in_one_line(flag, value, capsys):
    assert main(["check", "kms", f"{flag}={value}"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err


@pytest.mark.parametrize("value", ["0", "-2", "nan", "inf", "1e308"])
def test_prove_refuses_bad_time_limits(value, capsys):
    assert main(["prove", "twophase", f"--max-seconds={value}"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-seconds" in err


def test_prove_cut_by_its_time_limit_exits_15(capsys):
    # 1 microsecond runs out before the first solver call: BMC searched no depth at all.
    assert main(["prove", "twophase", "--max-seconds", "0.000001", "--json"]) == EXIT_INCOMPLETE
    summary = json.loads(capsys.readouterr().out)
    assert summary["stopped"] == "max_seconds" and summary["exit_code"] == EXIT_INCOMPLETE
    argv = ["prove", "twophase", "--max-seconds", "0.000001", "--allow-incomplete"]
    assert main(argv) == EXIT_OK


def test_prove_reaching_its_depth_is_not_a_cut(capsys):
    assert main(["prove", "twophase", "--depth", "2"]) == EXIT_OK


def _project(tmp_path, body: str):
    path = tmp_path / "mrkcheck.toml"
    path.write_text('model = "kms"\n\n[instances.small]\n' + body, encoding="utf-8")
    return str(path)


def test_a_project_entry_cut_by_a_limit_is_incomplete_not_a_pass(tmp_path, capsys):
    path = _project(tmp_path, "liveness = false\nmax_states = 50\n")
    junit = tmp_path / "junit.xml"
    assert main(["check", "--project", path, "--junit", str(junit)]) == EXIT_INCOMPLETE
    assert "incomplete" in capsys.readouterr().err
    assert "<skipped" in junit.read_text()  # undecided properties are skipped, never passed
    assert main(["check", "--project", path, "--allow-incomplete"]) == EXIT_OK


@pytest.mark.parametrize(
    "body", ["max_states = 0\n", "max_depth = -1\n", "max_seconds = nan\n", "max_seconds = 0.0\n"]
)
def test_a_project_file_with_a_bad_limit_is_refused(tmp_path, body, capsys):
    assert main(["check", "--project", _project(tmp_path, body)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and body.split(" ")[0] in err
