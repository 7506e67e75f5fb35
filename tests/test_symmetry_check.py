"""--symmetry is checked before it is used (issue 10).

A model that singles out one element of a universe declared symmetric is refused with one line,
never explored with a wrong reduction (wrong verdicts) or crashed on (a trace that cannot be
replayed). The engine's symmetric counts are compared with orbits counted by brute force: every
permutation of the interchangeable elements, applied to every reachable state, written here
without the engine's canonicaliser.
"""

import itertools
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mrkcheck.check.explicit import check, reachable
from mrkcheck.check.symmetry import SymmetryRefused, require_symmetry
from mrkcheck.cli import main
from mrkcheck.examples.twophase import RMState
from mrkcheck.examples.twophase import build as twophase
from mrkcheck.lang.model import ActionProperty, Guard, Invariant, Model
from mrkcheck.lang.mutation import edit_effects, edit_instances
from mrkcheck.model.kms import build as kms
from mrkcheck.testing import assert_holds

# --- asymmetric models (factories, so that the command line can load them too) ---------------------


def first_region_replicas_without_material(regions: int = 3) -> Model:
    """Replicas made from the first Region get no material: violated in 2 steps without symmetry."""
    model = kms(regions=regions)
    first = model.universe("Region").elements[0]

    def no_material(inst, target, value):
        return 0 if target.name == "versions" and inst.param("r") == first else value

    return edit_effects(model, "ReplicateKey", no_material)


def key_set_k1_never_encrypts(key_sets: int = 2) -> Model:
    """Encrypt is refused for key set k1 only (a small instance: the check runs before search)."""
    model = kms(regions=2, key_sets=key_sets, origins="AWS_KMS", max_versions=1)

    def refuse_k1(inst):
        return replace(inst, guards=inst.guards + (Guard(inst.param("s") != "k1"),))

    return edit_instances(model, "Encrypt", refuse_k1)


# --- refusals ---------------------------------------------------------------------------------------


def test_region_singled_out_is_violated_without_symmetry():
    result = check(first_region_replicas_without_material())
    trace = result.result("new_replica_gets_shared_properties").trace
    assert trace is not None and len(trace) == 2


@pytest.mark.parametrize(
    "properties",
    [None, ["new_replica_gets_shared_properties", "ciphertext_decryptable_everywhere"]],
)
def test_region_singled_out_is_refused_under_symmetry(properties):
    """Before: HOLDS with these properties selected, IndexError with all of them."""
    model = first_region_replicas_without_material()
    if properties:
        model = model.select(properties)
    with pytest.raises(SymmetryRefused) as refused:
        check(model, symmetry=True)
    assert str(refused.value) == (
        "--symmetry refused: action ReplicateKey(s=k1, r=us-east-1, replica=eu-west-1) has no "
        "image under the swap us-east-1<->eu-west-1 (the model singles out one Region); "
        "run without --symmetry"
    )


def test_key_set_singled_out_is_refused():
    with pytest.raises(SymmetryRefused, match=r"action Encrypt\(s=k\d, r=us-east-1\).*k1<->k2"):
        check(key_set_k1_never_encrypts(), symmetry=True)
    require_symmetry(key_set_k1_never_encrypts(key_sets=1))  # one key set: nothing to swap


def test_refusal_on_the_command_line_is_one_line_and_exit_150(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    code = main(
        ["check", "test_symmetry_check:first_region_replicas_without_material", "--symmetry"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 150
    assert len(err.splitlines()) == 1
    assert err.startswith("mrkcheck: ") and "--symmetry refused: action ReplicateKey(" in err
    sys.modules.pop("test_symmetry_check", None)


def test_refusal_through_the_testing_api():
    with pytest.raises(SymmetryRefused, match="KeySet"):
        assert_holds(key_set_k1_never_encrypts(), symmetry=True, liveness=False)


def test_reachable_graph_is_checked_too():
    with pytest.raises(SymmetryRefused):
        reachable(first_region_replicas_without_material(), symmetry=True)


def test_asymmetric_property_is_refused():
    """A property about rm1 alone is checked only on canonical states, so it would be unsound."""
    model = twophase(3)
    rm1 = model.schema.variable("rmState")["rm1"]
    only_rm1 = Invariant("rm1_never_aborts", rm1.ne(RMState.aborted))
    with pytest.raises(SymmetryRefused, match="property rm1_never_aborts .* rm1<->rm2"):
        check(model.with_properties([only_rm1]), symmetry=True)
    assert check(model.with_properties([only_rm1])).result("rm1_never_aborts").trace is not None


def test_asymmetric_action_property_is_refused():
    model = twophase(3)
    rm_state = model.schema.variable("rmState")

    def rm1_never_prepares(inst):
        if inst.action == "RMPrepare" and inst.param("rm") == "rm1":
            return rm_state["rm1"].next.ne(RMState.prepared)
        return None

    prop = ActionProperty("rm1_never_prepares", rm1_never_prepares)
    with pytest.raises(SymmetryRefused, match=r"property rm1_never_prepares on action RMPrepare"):
        check(model.with_properties([prop]), symmetry=True)


def test_asymmetric_initial_state_is_refused():
    model = twophase(3)
    start = list(model.initial[0])
    start[model.schema.variable("rmState").slot(("rm3",))] = RMState.prepared
    with pytest.raises(SymmetryRefused, match="the initial states .* rm2<->rm3"):
        check(replace(model, initial=(tuple(start),)), symmetry=True)


def test_asymmetric_terminal_condition_is_refused():
    model = twophase(3)
    rm2 = model.schema.variable("rmState")["rm2"]
    with pytest.raises(SymmetryRefused, match="the terminal condition"):
        check(replace(model, terminal=rm2.eq(RMState.committed)), symmetry=True)


def test_two_partitions_swap_only_within_a_partition():
    """Replication cannot cross partitions, yet the model is symmetric within each one."""
    require_symmetry(kms(regions=4, partitions=2))


def test_symmetric_models_are_accepted():
    """Including Encrypt, whose minimum over Regions is not a syntactic permutation of itself."""
    for model in (kms(), kms(regions=5), kms(key_sets=2), twophase(5)):
        require_symmetry(model)


# --- brute-force orbit counts -----------------------------------------------------------------------


def _slot_moves(model: Model, universe: str, image: dict[str, str]) -> list[int]:
    """For each slot, the slot whose value it receives when each element ``e`` of ``universe``
    is renamed ``image[e]``."""
    source = [0] * model.schema.width
    for var in model.schema.variables:
        for index in var.indices():
            moved = tuple(
                image[e] if u.name == universe else e for u, e in zip(var.over, index, strict=True)
            )
            source[var.slot(moved)] = var.slot(index)
    return source


def _orbit_count(model: Model, universe: str) -> int:
    """Distinct orbits of the reachable states under every permutation of ``universe``: each
    orbit is named by its least member."""
    elements = model.universe(universe).elements
    moves = [
        _slot_moves(model, universe, dict(zip(elements, p, strict=True)))
        for p in itertools.permutations(elements)
    ]
    orbits = {min(tuple(s[i] for i in source) for source in moves) for s in reachable(model)}
    return len(orbits)


@pytest.mark.parametrize(
    ("model", "universe", "orbits"),
    [
        (lambda: twophase(3), "RM", 80),
        (lambda: twophase(5), "RM", 314),
        (lambda: kms(regions=3), "Region", 3_748),
    ],
    ids=["twophase-3", "twophase-5", "kms-3"],
)
def test_brute_force_orbits_equal_symmetric_count(model, universe, orbits):
    built = model()
    assert _orbit_count(built, universe) == orbits
    assert check(built, symmetry=True).stats.distinct == orbits
