"""The engine against TwoPhase, a model with published counts (TLC and stateright)."""

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.check.result import HOLDS, VIOLATED
from mrkcheck.examples.twophase import build


@pytest.mark.parametrize(
    ("rm", "symmetry", "distinct", "generated", "depth"),
    [
        (3, False, 288, 1146, 11),  # TLC
        (5, False, 8832, 58146, 17),  # stateright (distinct), TLC counting (generated)
        (3, True, 80, 318, 11),
        (5, True, 314, 2048, 17),  # exact canonical form; stateright's weaker one gives 665
    ],
)
def test_published_counts(rm, symmetry, distinct, generated, depth):
    result = check(build(rm), symmetry=symmetry)
    assert (result.stats.distinct, result.stats.generated, result.stats.depth) == (
        distinct,
        generated,
        depth,
    )
    assert result.complete
    assert all(r.status == HOLDS for r in result.properties)
    assert result.exit_code == 0


def test_six_managers_match_the_spec_comment():
    """TwoPhase.tla says TLC found 50816 reachable states with six RMs."""
    assert check(build(6)).stats.distinct == 50816


def test_seeded_bug_gives_shortest_counterexample():
    result = check(build(3, bug="early_commit"))
    r = result.result("TCConsistent")
    assert r.status == VIOLATED
    # TMCommit, one RM aborts, another receives Commit: three steps, and no shorter run exists.
    assert len(r.trace) == 3
    assert [s.action for s in r.trace.steps] == [
        None,
        "TMCommit",
        "RMChooseToAbort",
        "RMRcvCommitMsg",
    ]
    assert result.exit_code == 12


def test_symmetry_traces_are_real_runs():
    """Under symmetry reduction the counterexample is replayed as a concrete run."""
    from mrkcheck.check.explicit import successors

    model = build(4, bug="early_commit")
    trace = check(model, symmetry=True).result("TCConsistent").trace
    assert len(trace) == 3
    for before, after in zip(trace.steps, trace.steps[1:], strict=False):
        labels = successors(model, before.state)
        assert any(t == after.state and lab.startswith(after.action) for lab, t in labels)


def test_action_counts_add_up():
    result = check(build(3))
    assert sum(result.stats.fired.values()) + 1 == result.stats.generated
    assert sum(result.stats.found.values()) + 1 == result.stats.distinct
    assert sum(result.stats.levels) == result.stats.distinct
    assert len(result.stats.levels) == result.stats.depth
