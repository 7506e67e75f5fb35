"""Probe models on which an unsound cutoff argument claims "proved for any number" (issue 10).

Each model (tests/cutoff_probes.py) breaks its invariant only from some number of Regions on.
The explicit engine finds the violation at that size; ``prove_any`` must not claim a proof: it
refutes it at a size it checks, or refuses the model with a reason."""

from __future__ import annotations

import pytest
from cutoff_probes import BREAKS_AT, PROBES, flags_model

from mrkcheck.check.cutoff import prove_any
from mrkcheck.check.explicit import check
from mrkcheck.cli import main
from mrkcheck.lang.expr import exists


@pytest.mark.parametrize("name", PROBES)
def test_bfs_finds_the_violation_only_from_its_size(name):
    build, size = PROBES[name], BREAKS_AT[name]
    assert check(build(size)).result("never_fired").status == "violated"
    if size > 1:
        assert check(build(size - 1)).result("never_fired").status == "holds"


@pytest.mark.parametrize("name", PROBES)
def test_prove_any_claims_no_proof(name):
    result = prove_any(PROBES[name], "never_fired")
    assert not result.proved_any, result.describe()
    if result.failure is not None:
        assert result.failure[0] == BREAKS_AT[name]  # refuted at the size where BFS breaks it
    else:
        assert result.reason  # refused, with the reason printed


def test_nested_quantifier_is_refused_by_name():
    result = prove_any(PROBES["seven_of_n"], "never_fired")
    assert "a quantifier instance in guard 1 of Fire() changes between" in result.reason


def test_folded_count_is_refused_by_name():
    result = prove_any(PROBES["folded_count_8"], "never_fired")
    assert "a count over Region whose body is the constant 1" in result.reason
    assert "in guard 1 of Fire()" in result.reason


def test_a_guard_reading_a_slot_chosen_by_the_size_is_not_uniform():
    """No count, no nested quantifier: only the slot the guard reads changes with n. The term
    by term comparison of the models with 3 and 4 Regions sees it (below 8 the invariant holds,
    so without that comparison every size checked would pass)."""
    result = prove_any(PROBES["slot_by_size"], "never_fired")
    assert not result.proved_any
    assert result.failure is None  # nothing to refute at the sizes checked: it is refused
    expected = "the model is not uniform in the number of Region elements: guard 1 of Fire()"
    assert expected in result.reason
    assert "differs between 3 and 4 Region elements" in result.reason


def test_the_same_model_without_the_size_dependence_is_proved():
    """The comparison is not a blanket refusal: reading the last Region's flag twice, in the
    same way at every size, is proved (Fire is never enabled)."""

    def uniform(regions: int = 3):
        return flags_model(regions, lambda R, flag: exists(R, lambda r: flag[(r,)] & ~flag[(r,)]))

    result = prove_any(uniform, "never_fired")
    assert result.proved_any, result.describe()


def test_exists_whose_body_ignores_its_variable_is_refused():
    """exists t: exists q != t: flag[q] lists flag[q] once per t: keeping q alone loses t."""

    def build(regions: int = 3):
        return flags_model(
            regions,
            lambda R, flag: exists(
                R, lambda t: exists([q for q in R if q != t], lambda q: flag[(q,)])
            ),
        )

    result = prove_any(build, "never_fired")
    assert not result.proved_any
    assert result.failure is not None or "does not mention its variable" in result.reason


@pytest.mark.parametrize("name", ["slot_by_size", "folded_count_8", "seven_of_n"])
def test_cli_any_regions_on_a_probe_fails_with_one_line(name, capsys):
    code = main(["prove", f"cutoff_probes:{name}", "--depth", "1", "--any-regions"])
    out = capsys.readouterr().out
    assert code == 12
    assert "proved for any number" not in out.replace("proved for any number of Regions: none", "")
    verdict = [line for line in out.splitlines() if line.strip().startswith("never_fired: ")]
    assert len(verdict) == 1
    assert "NOT proved" in verdict[0] or "proved only at sizes" in verdict[0]
