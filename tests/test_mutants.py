"""The seeded-bug catalogue: every mutant is caught with its shortest counterexample, each
counterexample is a real run of the mutated model, and the unmutated model violates nothing."""

import pytest

from mrkcheck.check.explicit import check, successors
from mrkcheck.check.liveness import add_liveness
from mrkcheck.check.result import HOLDS, VIOLATED
from mrkcheck.cli import main
from mrkcheck.model.mutants import MUTANTS


def check_all(model):
    return add_liveness(check(model), model)


@pytest.fixture(scope="module")
def results():
    """Each mutant checked for the properties it must break (the unmutated model is checked for
    all of them in test_unmutated_model_violates_nothing)."""
    return {m.name: check_all(m.build().select([m.breaks, *m.also])) for m in MUTANTS}


def test_catalogue_covers_every_property(kms_default):
    targeted = {m.breaks for m in MUTANTS} | {p for m in MUTANTS for p in m.also}
    expected_to_hold = {p.name for p in kms_default.properties if p.expected == HOLDS}
    assert targeted == expected_to_hold


def test_catalogue_has_the_known_emulator_bugs():
    names = {m.name for m in MUTANTS}
    assert {
        "replicate_overwrites",
        "replicate_from_replica",
        "no_pending_replica_deletion",
        "promote_before_demote",
        "sync_skips_rotation",
        "cancel_not_pending",
    } <= names


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_is_caught_with_shortest_counterexample(mutant, results):
    result = results[mutant.name].result(mutant.breaks)
    assert result.status == VIOLATED
    assert len(result.trace) == mutant.shortest
    assert result.trace.property_name == mutant.breaks
    for other in mutant.also:
        assert results[mutant.name].result(other).status == VIOLATED


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_counterexample_is_a_real_run(mutant, results):
    model = mutant.build()
    trace = results[mutant.name].result(mutant.breaks).trace
    assert trace.steps[0].state in model.initial
    for before, after in zip(trace.steps, trace.steps[1:], strict=False):
        label = after.label
        assert (label, after.state) in successors(model, before.state)
        inst = model.instance(label)
        assert inst.refusal(before.state) is None
        assert inst.apply(before.state) == after.state
    if trace.loop is not None:  # a lasso: the last state leads back to steps[loop] (or stutters)
        last, back = trace.steps[-1].state, trace.steps[trace.loop].state
        assert trace.loop == len(trace.steps) - 1 or back in [t for _, t in successors(model, last)]


def test_unmutated_model_violates_nothing(kms_default):
    result = check_all(kms_default)
    assert result.violations == []
    assert result.result("pending_replica_deletion_ends").status == VIOLATED  # L6, documented
    assert result.deadlock is None
    assert result.exit_code == 0


def test_documented_describe_key_counterexample(kms_default_result):
    """UPD and seed 001: during Updating DescribeKey may show both keys as replicas."""
    r = kms_default_result.result("describe_key_shows_one_primary")
    assert r.status == VIOLATED
    assert [s.action for s in r.trace.steps[1:]] == [
        "CreateKey",
        "ReplicateKey",
        "CompleteCreate",
        "UpdatePrimaryRegion",
    ]
    assert len(r.trace) == 4


def test_cli_exit_codes_for_every_mutant(capsys):
    assert main(["check", "kms"]) == 0  # "kms": a bare `check` in the repo runs mrkcheck.toml
    capsys.readouterr()
    for mutant in MUTANTS:
        liveness = mutant.build().get_property(mutant.breaks).kind == "eventually"
        argv = ["check", "--mutant", mutant.name, "--property", mutant.breaks]
        assert main(argv) == (13 if liveness else 12), mutant.name
        out = capsys.readouterr().out
        assert f"Property {mutant.breaks} is violated." in out
        assert "Rule:" in out and "*" in out  # the rule and the marked changes


def test_cli_property_selection(capsys):
    code = main(["check", "--mutant", "cancel_not_pending", "--property", "one_key_per_region"])
    assert code == 0
    code = main(["check", "--property", "no_such_property"])
    assert code == 150
    assert "unknown property" in capsys.readouterr().err
