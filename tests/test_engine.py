"""The generic engine: model validation, deadlock, limits, command-line errors."""

from enum import IntEnum

import pytest

from mrkcheck.check.explicit import Limits, check
from mrkcheck.check.result import HOLDS, UNKNOWN, VIOLATED
from mrkcheck.cli import main
from mrkcheck.examples.twophase import build as twophase
from mrkcheck.lang.expr import ExprError, evaluate
from mrkcheck.lang.model import ModelBuilder, ModelError, Transition


class Light(IntEnum):
    red = 0
    green = 1


def counter(limit: int = 3, stuck: bool = False):
    """A counter that counts up to ``limit``; with ``stuck`` it stops there (a deadlock)."""
    m = ModelBuilder("counter")
    n = m.variable("n", range(0, limit + 1), init=0).ref

    @m.action()
    def Inc():
        return Transition(guards=[n.lt(limit)], effects=[(n, n + 1)])

    if not stuck:

        @m.action()
        def Reset():
            return Transition(guards=[n.eq(limit)], effects=[(n, 0)])

    m.invariant("small", n.le(limit - 1), rule="test")
    return m.build()


def test_validation_unknown_universe():
    m = ModelBuilder("x")
    with pytest.raises(ModelError, match="unknown universe 'Nowhere'"):

        @m.action(r="Nowhere")
        def A(r):
            return Transition()


def test_validation_assigned_twice():
    m = ModelBuilder("x")
    v = m.variable("v", bool).ref

    @m.action()
    def A():
        return Transition(effects=[(v, True), (v, False)])

    with pytest.raises(ModelError, match="assigned twice"):
        m.build()


def test_validation_value_outside_domain():
    m = ModelBuilder("x")
    v = m.variable("v", Light).ref

    @m.action()
    def A():
        return Transition(effects=[(v, 7)])

    with pytest.raises(ModelError, match="outside the domain Light"):
        m.build()


def test_validation_initial_value_outside_domain():
    m = ModelBuilder("x")
    m.variable("v", range(0, 3), init=5)
    with pytest.raises(ModelError, match="initial value 5"):
        m.build()


def test_validation_unknown_variable_and_property():
    model = twophase(3)
    with pytest.raises(ModelError, match="unknown variable 'nope'"):
        model.schema.variable("nope")
    with pytest.raises(ModelError, match="unknown property"):
        model.select(["nope"])


def test_sorts_are_checked_when_built():
    m = ModelBuilder("x")
    v = m.variable("v", range(0, 3)).ref
    with pytest.raises(ExprError):
        _ = v & v
    with pytest.raises(ExprError):
        _ = v.eq(1) + 1


def test_computed_value_outside_domain_is_an_evaluation_error():
    from mrkcheck.check.compile import EvaluationError

    m = ModelBuilder("x")
    v = m.variable("v", range(0, 3)).ref

    @m.action()
    def Up():
        return Transition(effects=[(v, v + 1)])

    with pytest.raises(EvaluationError, match="outside its domain"):
        check(m.build())


def test_deadlock_is_found_with_shortest_trace():
    result = check(counter(3, stuck=True).select([]))
    assert result.deadlock is not None and len(result.deadlock) == 3
    assert result.exit_code == 11
    assert check(counter(3, stuck=True).select([]), deadlock=False).exit_code == 0
    assert check(counter(3).select([])).deadlock is None


def test_limits_leave_verdicts_unknown():
    result = check(twophase(5), limits=Limits(max_states=100))
    assert not result.complete and result.stopped == "max_states"
    assert {r.status for r in result.properties} == {UNKNOWN}
    result = check(twophase(5), limits=Limits(max_depth=3))
    assert result.stopped == "max_depth" and result.stats.depth == 3


def test_invariant_violation_trace_and_evaluate():
    result = check(counter(3))
    r = result.result("small")
    assert r.status == VIOLATED and len(r.trace) == 3
    assert evaluate(r.checked.expr, r.trace.steps[-1].state) == 0
    assert check(counter(3).select([])).properties == []
    assert HOLDS == "holds"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "nosuchmodel"], "unknown model"),
        (["check", "--regions", "9"], "regions must be between 1 and 6"),
        (["check", "--regions", "mars"], "unknown Region 'mars'"),
        (["check", "--key-sets", "x"], "whole number"),
        (["check", "-D", "guard_order=random"], "guard_order"),
        (["check", "--mutant", "nope"], "unknown mutant"),
        (["check", "--bogus"], "unknown option '--bogus' (see: mrkcheck check --help)"),
        (["check", "twophase", "--regions", "3"], "unknown option 'regions'"),
        (["check", "no.such.module:build"], "cannot import"),
    ],
)
def test_bad_input_is_one_line_and_exit_150(argv, message, capsys):
    assert main(argv) == 150
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_json_summary_of_twophase(capsys):
    import json

    assert main(["check", "twophase", "--rm", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["stats"]["distinct"], summary["stats"]["generated"]) == (288, 1146)
    assert summary["stats"]["depth"] == 11
    assert main(["check", "twophase", "--rm", "5", "--symmetry", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stats"]["distinct"] == 314


def test_model_by_module_and_function(capsys):
    assert main(["check", "mrkcheck.examples.twophase:build", "--rm", "2"]) == 0
    assert "TCConsistent" in capsys.readouterr().out
