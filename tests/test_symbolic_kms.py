"""The symbolic engine on the KMS model: same successors, same shortest counterexamples, proofs."""

from __future__ import annotations

import pytest

kms = pytest.importorskip("mrkcheck.model.kms")

from mrkcheck.check.compile import compile_model  # noqa: E402
from mrkcheck.check.cutoff import prove_any  # noqa: E402
from mrkcheck.check.explicit import check, reachable  # noqa: E402
from mrkcheck.check.symbolic import SymbolicSuccessors, bmc  # noqa: E402
from mrkcheck.cli import main  # noqa: E402
from mrkcheck.lang.expr import evaluate  # noqa: E402
from mrkcheck.lang.model import ACTION  # noqa: E402
from mrkcheck.model import kms_lemmas  # noqa: E402

NAMED = ["one_primary_per_key_set", "one_key_per_region", "no_primary_deletion_with_replicas"]


def _mutants():
    """The safety mutants (liveness needs lassos, which bounded model checking does not build)."""
    from mrkcheck.model.mutants import MUTANTS

    kinds = {p.name: p.kind for p in kms.build().properties}
    return [m for m in MUTANTS if kinds[m.breaks] != "eventually"]


def test_z3_successors_match_explicit_on_two_regions():
    model = kms.build(regions=2)
    symbolic, compiled = SymbolicSuccessors(model), compile_model(model)
    states = sorted(reachable(model))
    step = max(1, len(states) // 400)  # every state on the slow run, a spread sample by default
    for state in states[::step]:
        out: list = []
        compiled.step(state, out, [])
        assert symbolic(state) == sorted(out), model.decode(state)


@pytest.mark.slow
def test_z3_successors_match_explicit_on_every_state_of_two_regions():
    model = kms.build(regions=2)
    symbolic, compiled = SymbolicSuccessors(model), compile_model(model)
    for state in reachable(model):
        out: list = []
        compiled.step(state, out, [])
        assert symbolic(state) == sorted(out), model.decode(state)


@pytest.mark.parametrize("mutant", _mutants(), ids=lambda m: m.name)
def test_bmc_finds_each_mutant_at_the_bfs_depth(mutant):
    """On the default instance: BMC (depths 0, 1, ... in order) first finds the violation at the
    mutant's pinned BFS length, so the symbolic shortest counterexample is as short as BFS's."""
    model = mutant.build().select([mutant.breaks])
    found = bmc(model, depth=mutant.shortest).result(mutant.breaks)
    assert found.status == "violated", f"{mutant.name}: nothing up to depth {mutant.shortest}"
    assert len(found.trace) == mutant.shortest
    _assert_real_run(model, found.trace, mutant.breaks)


def _assert_real_run(model, trace, name: str) -> None:
    """The trace starts in Init, each step is an enabled instance, and the last state (or step)
    breaks the property: a counterexample of the model, not an artefact of the encoding."""
    steps = trace.steps
    assert steps[0].state in model.initial
    for before, after in zip(steps, steps[1:], strict=False):
        inst = model.instance(after.label)
        assert evaluate(inst.enabled, before.state) and inst.apply(before.state) == after.state
    prop = model.get_property(name)
    if prop.kind == ACTION:
        expr = prop.for_action(model.instance(steps[-1].label))
        assert expr is not None and not evaluate(expr, steps[-2].state, steps[-1].state)
    else:
        assert not evaluate(prop.expr, steps[-1].state)


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [m for m in _mutants() if m.shortest <= 4], ids=lambda m: m.name)
def test_bmc_depth_equals_bfs_length_on_two_regions(mutant):
    """Where the mutant shows on 2 Regions, both engines on that same instance agree."""
    model = mutant.build(regions=2).select([mutant.breaks])
    explicit = check(model).result(mutant.breaks)
    if explicit.trace is None:
        pytest.skip(f"{mutant.name} needs 3 Regions")
    found = bmc(model, depth=len(explicit.trace)).result(mutant.breaks)
    assert found.status == "violated" and len(found.trace) == len(explicit.trace)


def test_prove_any_regions_on_the_command_line(capsys):
    """What the command says; every named invariant's proof is the test below (one here)."""
    name = NAMED[0]
    code = main(["prove", "kms", "--depth", "2", "--any-regions", "--property", name])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{name}: proved for any number" in out
    assert "proved for any number of Regions (other options as here" in out
    assert "everything else above holds only for the instance checked" in out


def test_any_regions_cutoffs_of_the_named_invariants():
    """The cutoffs stay within what the factory can build (6 Regions), sanity check included."""
    for name in NAMED:
        result = prove_any(kms.build, name, kms_lemmas.any_size_lemmas)
        assert result.proved_any, result.describe()
        assert result.cutoff == 5 and result.sizes == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    "mutant", [m for m in _mutants() if m.breaks in NAMED], ids=lambda m: m.name
)
def test_prove_any_regions_fails_on_mutants(mutant, capsys):
    code = main(
        [
            "prove",
            "kms",
            "--mutant",
            mutant.name,
            "--depth",
            "3",
            "--regions",
            "2",
            "--any-regions",
            "--property",
            mutant.breaks,
        ]
    )
    out = capsys.readouterr().out
    assert code == 12, out
    assert f"{mutant.breaks}: NOT proved" in out
    assert "Counterexample to induction" in out or "violated from Init" in out
