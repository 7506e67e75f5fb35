"""Probe models for ``prove --any-regions`` (issue 10), importable as ``cutoff_probes:<name>``.

Each breaks its invariant ``never_fired`` only from some number of Regions on (see ``BREAKS_AT``);
a sound cutoff argument must not claim a proof of it for any number of Regions."""

from __future__ import annotations

from collections.abc import Callable

from mrkcheck.lang.expr import Expr, count, exists, forall
from mrkcheck.lang.model import Model, ModelBuilder, Transition, Variable

Guard = Callable[[list[str], Variable], Expr]


def flags_model(regions: int, fire_guard: Guard) -> Model:
    """``regions`` flags that can be set one by one; ``Fire`` sets ``fired`` when ``fire_guard``
    holds. The invariant ``never_fired`` is broken exactly when ``Fire`` can ever be enabled."""
    m = ModelBuilder("probe")
    names = [f"r{i}" for i in range(1, regions + 1)]
    R = m.universe("Region", names, symmetric=True)
    flag = m.variable("flag", bool, over=[R], init=False)
    fired = m.variable("fired", bool, init=False)

    @m.action(r=R)
    def Set(r: str) -> Transition:
        return Transition(guards=[~flag[(r,)]], effects=[(flag[(r,)], True)])

    @m.action()
    def Fire() -> Transition:
        return Transition(guards=[fire_guard(names, flag), ~fired.ref], effects=[(fired.ref, True)])

    m.invariant("never_fired", ~fired.ref)
    return m.build()


def others_at_least(k: int) -> Guard:
    """forall t: count(q != t: flag[q]) >= k: true once k + 1 flags are set."""

    def guard(R: list[str], flag: Variable) -> Expr:
        return forall(R, lambda t: count([q for q in R if q != t], lambda q: flag[(q,)]).ge(k))

    return guard


def some_other_set(R: list[str], flag: Variable) -> Expr:
    """forall t: exists q != t: flag[q]: true once two flags are set."""
    return forall(R, lambda t: exists([q for q in R if q != t], lambda q: flag[(q,)]))


def folded_count_at_least(k: int) -> Guard:
    """A count whose bodies are build-time constants folds to the number of Regions."""

    def guard(R: list[str], flag: Variable) -> Expr:
        same_partition = lambda a, b: True  # noqa: E731 - one partition, as in the KMS model
        return forall(R, lambda r: count(R, lambda q: same_partition(r, q)).ge(k))

    return guard


def reads_a_slot_by_size(R: list[str], flag: Variable) -> Expr:
    """flag[a] and not flag[last]: a is the last Region below 8 Regions (never both), the first
    from 8 on. No count: only which slot the guard reads depends on the number of Regions."""
    first = R[0] if len(R) >= 8 else R[-1]
    return flag[(first,)] & ~flag[(R[-1],)]


def four_of_n(regions: int = 3) -> Model:
    return flags_model(regions, others_at_least(3))


def seven_of_n(regions: int = 3) -> Model:
    return flags_model(regions, others_at_least(6))


def exists_other(regions: int = 3) -> Model:
    return flags_model(regions, some_other_set)


def folded_count_8(regions: int = 3) -> Model:
    return flags_model(regions, folded_count_at_least(8))


def slot_by_size(regions: int = 3) -> Model:
    return flags_model(regions, reads_a_slot_by_size)


PROBES: dict[str, Callable[..., Model]] = {
    "four_of_n": four_of_n,
    "seven_of_n": seven_of_n,
    "exists_other": exists_other,
    "folded_count_8": folded_count_8,
    "slot_by_size": slot_by_size,
}
BREAKS_AT = {
    "four_of_n": 4,
    "seven_of_n": 7,
    "exists_other": 2,
    "folded_count_8": 8,
    "slot_by_size": 8,
}
