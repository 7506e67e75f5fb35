"""The peer model (``../shared/peers/MultiRegionKeys.tla``) transcribed into the model language
gives exactly TLC's counts (the table in ``../shared/peers/README.md``, an independent source:
TLC and Spin on the TLA+ and Promela texts), its per-action coverage, and its seven invariants
hold.

TLC counts depth in states with the initial state at depth 1; so does the explicit engine (the
number of BFS levels), so the depths compare as they are."""

from __future__ import annotations

import pytest

from mrkcheck.check.checker import Checker
from mrkcheck.check.result import HOLDS
from mrkcheck.examples.mrk_peer import build
from mrkcheck.registry import find_mutant, load_factory, model_builder

INVARIANTS = {
    "TypeOK",
    "AtMostOnePrimary",
    "ExactlyOnePrimaryWhenAny",
    "NoOrphanReplicas",
    "PendingReplicaDeletionOnlyOnPrimary",
    "NotCreatedMeansEmpty",
    "ReplicaCopyOnlyOnReplicas",
}

# TLC -coverage at (3 Regions, 1 key set): successors generated per action.
TLC_COVERAGE_3_1 = {
    "CreateKey": 3,
    "ReplicateKey": 264,
    "FinishCreating": 912,
    "UpdatePrimaryRegion": 264,
    "FinishUpdating": 1494,
    "EnableKey": 1710,
    "DisableKey": 1710,
    "ScheduleKeyDeletion": 3420,
    "CancelKeyDeletion": 1716,
    "ExpireDeletion": 990,
    "PrimaryWaitOver": 6,
    "SetRotation": 726,
    "SyncRotation": 2280,
}


def _run(regions: int, key_sets: int, symmetry: bool):
    model = build(regions=regions, key_sets=key_sets)
    return Checker(model).symmetry(symmetry).liveness(False).independence(False).run()


def _counts(result) -> tuple[int, int, int]:
    return result.stats.distinct, result.stats.generated, result.stats.depth


@pytest.mark.parametrize(
    ("regions", "key_sets", "symmetry", "expected"),
    [
        (3, 1, False, (2_697, 15_496, 14)),
        (3, 1, True, (491, 2_808, 14)),
        (4, 1, False, (40_875, 316_293, 18)),
        (4, 1, True, (2_181, 16_847, 18)),
    ],
)
def test_counts_equal_tlc(regions, key_sets, symmetry, expected):
    result = _run(regions, key_sets, symmetry)
    assert result.complete
    assert _counts(result) == expected
    assert {r.name: r.status for r in result.properties} == dict.fromkeys(INVARIANTS, HOLDS)
    assert result.deadlock is None  # every dead end is the terminal "all created and deleted"


def test_coverage_equals_tlc():
    result = _run(3, 1, False)
    assert result.stats.fired == TLC_COVERAGE_3_1


def test_registered_as_peer():
    assert load_factory("peer") is build


@pytest.mark.slow
@pytest.mark.parametrize(
    ("regions", "key_sets", "symmetry", "expected"),
    [
        (5, 1, False, (572_693, 5_576_106, 22)),
        (5, 1, True, (7_761, 75_486, 22)),
        (3, 2, True, (1_215_585, 13_966_219, 27)),
    ],
)
def test_counts_equal_tlc_slow(regions, key_sets, symmetry, expected):
    result = _run(regions, key_sets, symmetry)
    assert _counts(result) == expected
    assert all(r.status == HOLDS for r in result.properties)


def test_an_invariant_catches_the_seeded_bug():
    """The invariants are not vacuous: a promotion without demotion breaks AtMostOnePrimary
    with the shortest run (create, replicate, finish creating, update)."""
    result = Checker(model_builder("peer", "update_without_demotion")()).liveness(False).run()
    assert result.exit_code == 12
    trace = result.result("AtMostOnePrimary").trace
    assert (
        trace is not None and len(trace) == find_mutant("peer", "update_without_demotion").shortest
    )
    assert [s.action for s in trace.steps[1:]] == [
        "CreateKey",
        "ReplicateKey",
        "FinishCreating",
        "UpdatePrimaryRegion",
    ]
