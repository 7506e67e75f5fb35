"""Key-set independence (mrkcheck/check/independence.py): the split is read from the model's
expressions, and the verdicts, counts and traces it concludes are those of the product search
(``.independence(False)``), the second engine every figure here is compared with."""

from __future__ import annotations

import pytest

from mrkcheck.check.checker import Checker
from mrkcheck.check.explicit import successors
from mrkcheck.check.independence import Split, split
from mrkcheck.check.result import HOLDS, VIOLATED
from mrkcheck.examples.mrk_peer import build as peer
from mrkcheck.lang.expr import and_
from mrkcheck.lang.model import Model, ModelBuilder, Transition
from mrkcheck.model.kms import build as kms
from mrkcheck.registry import model_builder

SMALL_KMS = {"regions": 2, "key_sets": 2, "origins": "AWS_KMS", "max_versions": 1}


def _both(model: Model, **config):
    checker = Checker(model)
    for name, value in config.items():
        checker = getattr(checker, name)(value)
    return checker.run(), checker.independence(False).run()


def _verdicts(result) -> dict[str, str]:
    return {r.name: r.status for r in result.properties}


def _is_run(model: Model, trace) -> bool:
    """Every step of ``trace`` is a transition of ``model`` from its initial state."""
    states = [s.state for s in trace.steps]
    if states[0] not in model.initial:
        return False
    return all(
        (step.label, step.state) in successors(model, before)
        for before, step in zip(states, trace.steps[1:], strict=False)
    )


def test_kms_two_key_sets_equal_the_product_search():
    """Counts (distinct = 243², generated, depth, per level, per action), every safety and
    liveness verdict, the documented counterexamples' lengths: as the product search finds."""
    model = kms(**SMALL_KMS)
    reduced, product = _both(model)
    assert reduced.independence["applied"] and reduced.independence["component"]["distinct"] == 243
    assert "checked k1 (243 states) and concluded for 2" in reduced.independence["reason"]
    assert product.independence is None
    r, p = reduced.stats, product.stats
    assert (r.distinct, r.generated, r.depth) == (p.distinct, p.generated, p.depth)
    assert r.distinct == 243**2 == 59_049
    assert r.levels == p.levels and r.fired == p.fired
    assert _verdicts(reduced) == _verdicts(product)
    for mine, theirs in zip(reduced.properties, product.properties, strict=True):
        assert (mine.trace is None) == (theirs.trace is None)
        if mine.trace is not None and mine.trace.loop is None:
            assert len(mine.trace) == len(theirs.trace)
            assert _is_run(model, mine.trace)
    assert reduced.exit_code == product.exit_code == 0
    summary = reduced.summary()  # --json: the derived counts, and the searched key set's
    assert summary["stats"]["distinct"] == 59_049
    assert summary["independence"]["derived"] and summary["independence"]["checked"] == "k1"


def test_a_mutant_is_caught_as_in_the_product_with_a_run_of_the_whole_model():
    build = model_builder("kms", "promote_before_demote")
    model = build(**SMALL_KMS).select(["one_primary_per_key_set", "updating_pair"])
    reduced, product = _both(model, liveness=False, stop_when_all_violated=True)
    assert _verdicts(reduced) == _verdicts(product)
    assert reduced.exit_code == product.exit_code == 12
    for mine, theirs in zip(reduced.properties, product.properties, strict=True):
        if mine.status == VIOLATED:
            assert len(mine.trace) == len(theirs.trace)
            assert _is_run(model, mine.trace)


def test_peer_two_regions_two_key_sets_equal_the_product_search():
    reduced, product = _both(peer(regions=2, key_sets=2))
    assert reduced.independence["applied"]
    s, p = reduced.stats, product.stats
    assert (s.distinct, s.generated, s.depth, s.levels) == (
        p.distinct,
        p.generated,
        p.depth,
        p.levels,
    )
    assert _verdicts(reduced) == _verdicts(product)


# --- a toy model: counters per key set, with properties of one, both, or each key set -----------


def counters(
    limit: int = 2, one_set_only: bool = False, cross: bool = False, flagged_ends: bool = False
) -> Model:
    """Each key set's counter climbs to ``limit`` and stops there (a deadlock once all have;
    with ``flagged_ends``, only where some key set's flag is still down)."""
    m = ModelBuilder("counters")
    K = m.universe("K", ["a", "b", "c"])
    x = m.variable("x", range(0, limit + 1), over=[K], init=0)
    flag = m.variable("flag", bool, over=[K], init=False)

    @m.action(k=K)
    def Inc(k: str) -> Transition:
        return Transition(guards=[x[k].lt(limit)], effects=[(x[k], x[k] + 1)])

    @m.action(k=K)
    def Flip(k: str) -> Transition:
        return Transition(guards=[x[k].eq(1), ~flag[k]], effects=[(flag[k], True)])

    if one_set_only:
        m.invariant("b_below_limit", x["b"].lt(limit))
    else:
        m.invariant("each_below_limit", and_(*(x[k].lt(limit) for k in K)))
    if cross:
        m.invariant("a_not_ahead_of_b", x["a"].le(x["b"]))
    if flagged_ends:
        m.terminal(and_(*(flag[k] for k in K)))
    return m.build()


def test_a_violation_of_one_key_set_is_reported_in_that_key_set():
    model = counters(one_set_only=True)
    reduced, product = _both(model, deadlock=False)
    mine, theirs = reduced.properties[0], product.properties[0]
    assert mine.status == theirs.status == VIOLATED
    assert len(mine.trace) == len(theirs.trace) == 2
    assert [s.label for s in mine.trace.steps[1:]] == ["Inc(k=b)", "Inc(k=b)"]
    assert _is_run(model, mine.trace)


def test_deadlock_needs_every_key_set_dead_and_is_the_shortest():
    model = counters()
    reduced, product = _both(model)
    assert reduced.deadlock is not None and product.deadlock is not None
    assert len(reduced.deadlock) == len(product.deadlock) == 6  # two Inc per key set
    assert _is_run(model, reduced.deadlock)
    assert not successors(model, reduced.deadlock.steps[-1].state)
    assert reduced.exit_code == product.exit_code


def test_deadlock_with_a_terminal_condition_split_per_key_set():
    model = counters(flagged_ends=True)
    reduced, product = _both(model)
    assert len(reduced.deadlock) == len(product.deadlock) == 6
    assert _is_run(model, reduced.deadlock)
    assert reduced.stats.distinct == product.stats.distinct == 125


def test_a_property_across_key_sets_falls_back_to_the_product_search():
    model = counters(cross=True)
    assert isinstance(split(model), str)
    result = Checker(model).deadlock(False).run()
    assert not result.independence["applied"]
    assert "a_not_ahead_of_b mentions several K elements" in result.independence["reason"]
    assert result.stats.distinct == 5**3  # the product searched: (0, 1 unflipped, 1, 2, 2) cubed


def test_a_model_with_one_part_says_nothing():
    assert split(peer(regions=3, key_sets=1)) is None
    assert Checker(peer(regions=2)).run().independence is None


def test_symmetry_within_the_checked_key_set():
    result = Checker(peer(regions=3, key_sets=2)).symmetry().run()
    assert result.independence["component"]["distinct"] == 491  # TLC's (3,1) with symmetry
    assert all(r.status == HOLDS for r in result.properties)


def test_the_split_is_found_in_the_model_text():
    found = split(kms(regions=2, key_sets=3, origins="AWS_KMS", max_versions=1))
    assert isinstance(found, Split)
    assert found.universe.name == "KeySet" and found.size == 3
    first = {i.label for i in found.component.instances}
    assert first and all("s=k1" in label for label in first)


@pytest.mark.slow
def test_peer_three_regions_two_key_sets_product():
    """The product search itself (7.27 million states, a few minutes): 2,697² as derived."""
    model = peer(regions=3, key_sets=2)
    reduced, product = _both(model, liveness=False)
    assert product.stats.distinct == reduced.stats.distinct == 7_273_809
    assert product.stats.generated == reduced.stats.generated == 83_580_031
    assert product.stats.depth == reduced.stats.depth == 27


def test_results_name_the_models_own_properties():
    model = kms(**SMALL_KMS)
    result = Checker(model).liveness(False).run()
    assert [r.checked for r in result.properties] == list(model.properties)


def test_instances_sharing_a_normal_form_keep_their_own_counterparts():
    """Both UpdatePrimaryRegion(r=primary) instances of a key set are refused by construction and
    share a normal form; pairing them by normal form lost one label, so the component's action
    properties had no condition for it and --symmetry was refused on the component."""
    model = kms(regions=2, key_sets=2, origins="AWS_KMS", max_versions=1)
    found = split(model, True)
    assert isinstance(found, Split)
    first = [i for i in model.instances if i.param("s") == "k1"]
    matrix = next(p for p in found.component.properties if p.name == "key_state_matrix_respected")
    original = next(p for p in model.properties if p.name == "key_state_matrix_respected")
    for inst in first:
        assert (matrix.for_action(inst) is None) == (original.for_action(inst) is None), inst.label
    result = Checker(model).symmetry(True).liveness(False).run()
    assert result.independence["applied"] and result.stats.distinct == 123**2
