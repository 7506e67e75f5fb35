"""Probe models on which an unsound cutoff argument claims "proved for any number" (issue 10).

Each model breaks its invariant only from some number of Regions on. The explicit engine finds
the violation at that size; ``prove_any`` must not claim a proof: it refutes it at a size it
checks, or refuses the shape with a reason."""

from __future__ import annotations

import pytest

from mrkcheck.cutoff import prove_any
from mrkcheck.explicit import check
from mrkcheck.expr import count, exists, forall
from mrkcheck.spec import ModelBuilder, Transition


def _flags_model(n: int, fire_guard) -> ModelBuilder:
    """n flags that can be set one by one; ``Fire`` sets ``fired`` when ``fire_guard`` holds.
    The invariant ``never_fired`` is broken exactly when ``Fire`` can ever be enabled."""
    m = ModelBuilder("probe")
    R = m.universe("R", [f"e{i}" for i in range(n)], symmetric=True)
    flag = m.variable("flag", bool, over=[R], init=False)
    fired = m.variable("fired", bool, init=False)

    @m.action(r=R)
    def Set(r: str) -> Transition:
        return Transition(guards=[~flag[(r,)]], effects=[(flag[(r,)], True)])

    @m.action()
    def Fire() -> Transition:
        return Transition(guards=[fire_guard(R, flag), ~fired.ref], effects=[(fired.ref, True)])

    m.invariant("never_fired", ~fired.ref)
    return m


def others_at_least(k: int):
    """forall t: count(q != t: flag[q]) >= k: true once k + 1 flags are set (needs k + 1 Regions)."""

    def guard(R, flag):
        return forall(R, lambda t: count([q for q in R if q != t], lambda q: flag[(q,)]).ge(k))

    return guard


def some_other_set(R, flag):
    """forall t: exists q != t: flag[q]: true once two flags are set (needs 2 Regions)."""
    return forall(R, lambda t: exists([q for q in R if q != t], lambda q: flag[(q,)]))


def folded_count_at_least(k: int):
    """A count whose bodies are build-time constants folds to the number of Regions."""

    def guard(R, flag):
        same_partition = lambda a, b: True  # noqa: E731 - one partition, as in the KMS model
        return forall(R, lambda r: count(R, lambda q: same_partition(r, q)).ge(k))

    return guard


PROBES = {
    "four_of_n": (others_at_least(3), 4),
    "seven_of_n": (others_at_least(6), 7),
    "exists_other": (some_other_set, 2),
    "folded_count_8": (folded_count_at_least(8), 8),
}


def _factory(guard):
    return lambda n=3: _flags_model(n, guard).build()


@pytest.mark.parametrize("name", PROBES)
def test_bfs_finds_the_violation_only_from_its_size(name):
    guard, size = PROBES[name]
    build = _factory(guard)
    assert check(build(size)).result("never_fired").status == "violated"
    if size > 1:
        assert check(build(size - 1)).result("never_fired").status == "holds"


@pytest.mark.parametrize("name", PROBES)
def test_prove_any_claims_no_proof(name):
    guard, size = PROBES[name]
    result = prove_any(_factory(guard), "never_fired", option="n")
    assert not result.proved_any, result.describe()
    if result.failure is not None:
        assert result.failure[0] == size  # refuted at the size where BFS breaks it
    else:
        assert result.reason  # refused, with the reason printed


def test_nested_quantifier_is_refused_by_name():
    result = prove_any(_factory(others_at_least(6)), "never_fired", option="n")
    assert "a quantifier instance changes with the number of Regions" in result.reason


def test_folded_count_is_refused_by_name():
    result = prove_any(_factory(folded_count_at_least(8)), "never_fired", option="n")
    assert "folds to a number that depends on the size" in result.reason


def test_exists_whose_body_ignores_its_variable_is_refused():
    """exists t: exists q != t: flag[q] lists flag[q] once per t: keeping q alone loses t."""

    def guard(R, flag):
        return exists(R, lambda t: exists([q for q in R if q != t], lambda q: flag[(q,)]))

    result = prove_any(_factory(guard), "never_fired", option="n")
    assert not result.proved_any
    assert result.failure is not None or "does not mention its variable" in result.reason
