"""The one way to check (``Checker``) and the public API that notebooks import from."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mrkcheck
from mrkcheck import HOLDS, UNKNOWN, VIOLATED, Checker, load_factory, load_mutants
from mrkcheck.cli import main


@pytest.fixture(scope="module")
def two_regions():
    return load_factory("kms")(regions=2)


def _eventually(result):
    return {r.name: r.status for r in result.properties if r.checked.kind == "eventually"}


def test_a_checker_is_a_value(two_regions):
    base = Checker(two_regions)
    reduced = base.symmetry().limits(max_states=10)
    assert (base.symmetric, base.bounds.max_states) == (False, None)
    assert (reduced.symmetric, reduced.bounds.max_states) == (True, 10)


def test_liveness_is_checked_by_default_without_symmetry(two_regions):
    verdicts = _eventually(Checker(two_regions).run())
    assert verdicts and UNKNOWN not in verdicts.values()


def test_with_symmetry_liveness_is_skipped_unless_asked_for(two_regions):
    skipped = Checker(two_regions).symmetry()
    assert skipped.liveness_note is not None and "unreduced" in skipped.liveness_note
    assert set(_eventually(skipped.run()).values()) == {UNKNOWN}
    asked = skipped.liveness(True)
    assert asked.liveness_note is None
    plain = _eventually(Checker(two_regions).run())
    assert _eventually(asked.run()) == plain  # decided on the unreduced graph, as without symmetry


def test_liveness_off_leaves_eventually_unknown(two_regions):
    result = Checker(two_regions).liveness(False).run()
    assert set(_eventually(result).values()) == {UNKNOWN}
    assert any(r.status == HOLDS for r in result.properties)


def test_stop_when_all_violated_stops_a_caught_mutant_early():
    mutant = load_mutants("kms")["promote_before_demote"]
    model = mutant.build().select([mutant.breaks])
    full = Checker(model).liveness(False).run()
    early = Checker(model).liveness(False).stop_when_all_violated().run()
    assert full.result(mutant.breaks).status == early.result(mutant.breaks).status == VIOLATED
    assert early.stats.distinct < full.stats.distinct


def test_the_command_line_follows_the_same_liveness_rule(capsys):
    assert main(["check", "--regions", "2", "--symmetry", "--json"]) == 0
    err = capsys.readouterr().err
    assert "note: liveness needs the unreduced graph" in err
    assert main(["check", "--regions", "2", "--symmetry", "--liveness"]) == 0
    out, err = capsys.readouterr()
    assert "note:" not in err and "UNKNOWN" not in out


def test_the_public_api_names_the_engine_objects():
    from mrkcheck.check.checker import Checker as engine_checker

    assert mrkcheck.Checker is engine_checker
    assert set(mrkcheck.__all__) <= set(dir(mrkcheck))
    with pytest.raises(AttributeError):
        mrkcheck.check_everything  # noqa: B018 - the attribute access is the test


def test_importing_mrkcheck_loads_nothing_until_used():
    """``python -m mrkcheck`` runs the package first: its signal handlers come before imports."""
    code = "import sys, mrkcheck; print(sorted(m for m in sys.modules if m.startswith('mrkcheck')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['mrkcheck']"
