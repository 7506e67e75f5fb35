"""The one way to check (``Checker``) and the public API that notebooks import from."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mrkcheck
from mrkcheck import HOLDS, UNKNOWN, VIOLATED, Checker, load_factory, load_mutants
from mrkcheck.check.explicit import check, explore_graph
from mrkcheck.check.liveness import add_liveness, build_graph
from mrkcheck.cli import main
from mrkcheck.traces.itf import dumps


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


def _liveness_itf(result) -> dict[str, str | None]:
    return {
        r.name: r.trace and dumps(r.trace)
        for r in result.properties
        if r.checked.kind == "eventually"
    }


def test_the_graph_the_safety_search_records_is_the_graph_liveness_would_explore(two_regions):
    recorded, explored = explore_graph(two_regions), build_graph(two_regions)
    assert recorded.states == explored.states
    assert list(recorded.parent) == list(explored.parent)
    assert list(recorded.via) == list(explored.via)
    assert list(recorded.start) == list(explored.start)
    assert list(recorded.target) == list(explored.target)
    assert list(recorded.instance) == list(explored.instance)
    assert recorded.expanded == len(recorded.states) and len(recorded.target) > len(recorded.states)


@pytest.mark.parametrize("name", ["sync_skips_rotation", "primary_deletion_never_starts"])
def test_liveness_on_the_recorded_graph_finds_what_a_new_exploration_finds(name):
    mutant = load_mutants("kms")[name]
    model = mutant.build(regions=2)
    reused = Checker(model).run()  # liveness on the graph the safety search recorded
    explored = add_liveness(check(model), model)  # liveness exploring the graph again
    assert _liveness_itf(reused) == _liveness_itf(explored)
    assert VIOLATED in {r.status for r in reused.properties if r.checked.kind == "eventually"}


def test_liveness_after_a_search_stopped_early_explores_only_the_rest():
    mutant = load_mutants("kms")["sync_skips_rotation"]
    model = mutant.build(regions=2).select([mutant.breaks, *mutant.also])
    full = Checker(model).run()
    early = Checker(model).stop_when_all_violated().run()
    assert early.stats.distinct < full.stats.distinct  # the recorded graph was cut short
    assert early.result(mutant.also[0]).status == VIOLATED
    assert _liveness_itf(early) == _liveness_itf(full)


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
