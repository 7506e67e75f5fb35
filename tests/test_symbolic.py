"""The symbolic engine against the explicit one, on TwoPhase and small synthetic models."""

from __future__ import annotations

import json

import pytest

from mrkcheck.check.compile import EvaluationError, compile_model
from mrkcheck.check.cutoff import VIA_LEMMAS, _Regions, _Witness, analyse, prove_any
from mrkcheck.check.explicit import check, reachable, successors
from mrkcheck.check.result import HOLDS, UNKNOWN, VIOLATED
from mrkcheck.check.symbolic import SymbolicSuccessors, bmc, inductive, k_induction
from mrkcheck.cli import main
from mrkcheck.examples import twophase
from mrkcheck.examples.twophase_lemmas import lemmas as twophase_lemmas
from mrkcheck.lang.expr import count, evaluate, exists, forall
from mrkcheck.lang.model import (
    ActionProperty,
    Invariant,
    Model,
    ModelBuilder,
    Reachability,
    Transition,
    Verdict,
)

# --- the transition relation ----------------------------------------------------------------------


@pytest.mark.parametrize("rm", [2, 3])
def test_z3_successors_are_exactly_the_explicit_ones(rm):
    """For every reachable state: every model of T(pre, post) is a compiled step, and vice versa."""
    model = twophase.build(rm)
    symbolic, compiled = SymbolicSuccessors(model), compile_model(model)
    states = list(reachable(model))
    assert len(states) == {2: 56, 3: 288}[rm]
    for state in states:
        out: list = []
        compiled.step(state, out, [])
        assert symbolic(state) == sorted(out)


# --- bounded model checking -----------------------------------------------------------------------


def test_bmc_without_violation_says_bounded_not_holds():
    result = bmc(twophase.build(3), depth=6)
    for r in result.properties:
        assert r.status == UNKNOWN
        assert r.bounded_depth == 6
        assert r.describe() == "holds up to depth 6"
    assert result.exit_code == 0
    assert not result.complete


@pytest.mark.parametrize("mutant", twophase.MUTANTS, ids=lambda m: m.name)
def test_bmc_finds_mutants_at_the_explicit_depth(mutant):
    model = mutant.build(rm=3)
    explicit = check(model).result(mutant.breaks)
    symbolic = bmc(model, depth=10).result(mutant.breaks)
    assert symbolic.status == VIOLATED == explicit.status
    assert len(symbolic.trace) == len(explicit.trace) == mutant.shortest


def test_bmc_trace_is_a_real_run_with_labels():
    model = twophase.MUTANTS[0].build(rm=3)
    trace = bmc(model, depth=5).result("TCConsistent").trace
    assert trace.steps[0].state in model.initial and trace.steps[0].action is None
    for before, after in zip(trace.steps, trace.steps[1:], strict=False):
        assert (after.label, after.state) in successors(model, before.state)
    assert not evaluate(model.get_property("TCConsistent").expr, trace.steps[-1].state)
    assert "TMCommit" in [s.action for s in trace.steps]


def _counter(limit_guard: bool = True) -> Model:
    """A counter 0..3 with a goal, an action property and (optionally) an overflow bug."""
    m = ModelBuilder("counter")
    n = m.variable("n", range(0, 4), init=0).ref
    flag = m.variable("flag", bool, init=False).ref

    @m.action()
    def Inc() -> Transition:
        return Transition(guards=[n.lt(3)] if limit_guard else [], effects=[(n, n + 1)])

    @m.action()
    def Flag() -> Transition:
        return Transition(guards=[n.eq(2)], effects=[(flag, True)])

    m.invariant("small", n.le(3))
    m.add_property(Reachability("flag_set", flag.eq(1)))
    m.add_property(ActionProperty("never_decreases", lambda inst: n.le(n.next) if inst else None))
    m.add_property(Invariant("flag_needs_two", flag.implies(n.ge(2))))
    m.add_property(Invariant("documented_bug", n.lt(2), expected=Verdict.VIOLATED))
    return m.build()


def test_bmc_goals_action_properties_and_documented_counterexamples():
    result = bmc(_counter(), depth=5)
    assert result.result("flag_set").status == HOLDS
    assert len(result.result("flag_set").trace) == 3
    assert result.result("never_decreases").status == UNKNOWN
    assert result.result("documented_bug").status == VIOLATED
    assert len(result.result("documented_bug").trace) == 2
    assert result.exit_code == 0  # the only violation was expected


def test_bmc_reports_values_outside_the_domain():
    with pytest.raises(EvaluationError, match="Inc"):
        bmc(_counter(limit_guard=False), depth=5)


# --- induction ------------------------------------------------------------------------------------


def test_cti_is_a_real_step_from_an_invariant_state():
    model = twophase.build(3)
    result = inductive(model, "TCConsistent")
    assert not result.holds and result.base is None
    cti = result.cti
    expr = model.get_property("TCConsistent").expr
    assert evaluate(expr, cti.pre) and not evaluate(expr, cti.post)
    assert (cti.label, cti.post) in successors(model, cti.pre)
    assert cti.failed == ["TCConsistent"]


@pytest.mark.parametrize("name", ["TCConsistent", "TMCommitImpliesAllPrepared"])
def test_lemmas_make_twophase_inductive(name):
    model = twophase.build(3)
    result = inductive(model, name, twophase_lemmas(model))
    assert result.holds, result.cti


def test_k_induction_and_base_case():
    assert k_induction(_counter(), "flag_needs_two", 3).holds
    bug = k_induction(_counter(), "documented_bug", 3)
    assert not bug.holds and bug.base is not None and len(bug.base) == 2


def test_action_property_by_induction():
    assert inductive(_counter(), "never_decreases").holds


# --- any number of elements -----------------------------------------------------------------------


def test_cutoff_analysis_of_twophase():
    model = twophase.build(5)
    exprs = [model.get_property("TCConsistent").expr] + [p.expr for p in twophase_lemmas(model)]
    a = analyse(model, "RM", exprs)
    assert (a.params, a.conjunct_regions, a.witnesses, a.bound) == (1, 2, 0, 3)


def test_twophase_proved_for_any_number_of_managers():
    """The lemmas alone are inductive (cutoff 2) and imply TCConsistent (cutoff 2), a smaller
    cutoff than with TCConsistent in the hypothesis (3), so that route is taken."""
    result = prove_any(twophase.build, "TCConsistent", twophase_lemmas, option="rm")
    assert result.proved_any and result.route == VIA_LEMMAS and result.cutoff == 2
    assert result.sizes == [1, 2, 3]
    assert {c.implied for _, c in result.checks} == {True, False}


def test_mutant_is_not_proved_for_any_size():
    result = prove_any(twophase.MUTANTS[0].build, "TCConsistent", twophase_lemmas, option="rm")
    assert not result.proved_any and result.failure is not None


def _flags(n: int = 3, guard: str = "exists") -> Model:
    """Flags over n elements; ``guard`` picks how Set's guard quantifies (for the analysis)."""
    m = ModelBuilder("flags")
    R = m.universe("R", [f"e{i}" for i in range(n)], symmetric=True)
    x = m.variable("x", bool, over=[R], init=False)
    y = m.variable("y", bool, over=[R], init=False)

    @m.action(r=R)
    def Seed(r: str) -> Transition:
        return Transition(guards=[forall(R, lambda q: ~x[(q,)])], effects=[(x[(r,)], True)])

    @m.action(r=R)
    def Grow(r: str) -> Transition:
        some = exists(R, lambda q: x[(q,)])
        g = some if guard == "exists" else count(R, lambda q: x[(q,)]).eq(1)
        return Transition(guards=[g], effects=[(x[(r,)], True)])

    @m.action(r=R)
    def Mark(r: str) -> Transition:
        return Transition(guards=[x[(r,)]], effects=[(y[(r,)], True)])

    m.invariant("y_needs_x", forall(R, lambda r: y[(r,)].implies(exists(R, lambda q: x[(q,)]))))
    m.invariant(
        "some_y_needs_x",
        exists(R, lambda r: y[(r,)]).implies(exists(R, lambda q: x[(q,)])),
    )
    m.invariant(
        "at_most_one_x",
        forall(R, lambda a: forall(R, lambda b: ~(x[(a,)] & x[(b,)]) if a != b else True)),
    )
    return m.build()


def test_exists_guard_needs_a_witness_and_counts_have_witnesses():
    a = analyse(_flags(5), "R", [_flags(5).get_property("at_most_one_x").expr])
    assert (a.params, a.witnesses, a.conjunct_regions, a.bound) == (1, 1, 2, 4)
    # "exactly one x" in a guard: one witness keeps it true (at most one stays true by itself)
    counted = prove_any(lambda n=3: _flags(n, "count"), "at_most_one_x", option="n")
    assert counted.cutoff == 4 and not counted.proved_any
    assert counted.failure is not None and counted.failure[0] == 2  # Grow makes a second x
    # an exists inside an invariant: one witness keeps it true, one Region keeps it broken...
    exists_inv = prove_any(lambda n=3: _flags(n), "some_y_needs_x", option="n")
    assert exists_inv.proved_any and exists_inv.cutoff == 4
    assert exists_inv.analysis[0].invariant_witnesses == 1
    # ...but written inside a forall, each instance asks for its own witness: no cutoff
    per_instance = prove_any(lambda n=3: _flags(n), "y_needs_x", option="n")
    assert per_instance.cutoff is None and not per_instance.proved_any


@pytest.mark.parametrize(
    ("build", "true", "false"),
    [
        (lambda c: c.le(1), 0, 2),  # at most one: stays true; two keep it broken
        (lambda c: c.ge(2), 2, 0),
        (lambda c: c.eq(1), 1, 2),  # exactly one: one keeps it; 0 stays 0, or keep two
        (lambda c: c.ne(0), 1, 0),
        (lambda c: c.lt(3), 0, 3),
        (lambda c: c.gt(0), 1, 0),
    ],
)
def test_count_witnesses(build, true, false):
    model = _flags(5)
    x = model.schema.variable("x")
    expr = build(count(model.universe("R"), lambda r: x[(r,)]))
    wit = _Witness(_Regions(model, "R"))
    assert (wit.truth(expr, True, frozenset()), wit.truth(expr, False, frozenset())) == (
        true,
        false,
    )


# --- command line ---------------------------------------------------------------------------------


def test_cli_prove_twophase(tmp_path, capsys):
    out = tmp_path / "prove.json"
    code = main(
        [
            "prove",
            "twophase",
            "--rm",
            "3",
            "--depth",
            "4",
            "--induction",
            "--any-regions",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    tc = next(p for p in data["properties"] if p["name"] == "TCConsistent")
    assert tc["bmc"]["bounded_depth"] == 4 and tc["bmc"]["status"] == "unknown"
    assert tc["induction"]["status"] == "holds"
    assert tc["any_regions"]["proved"] is True
    assert "proved for any number" in capsys.readouterr().out


def test_cli_prove_mutant_fails(capsys):
    code = main(["prove", "twophase", "--mutant", "early_commit", "--any-regions", "--depth", "4"])
    assert code == 12
    assert "Counterexample to induction" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["prove", "twophase", "--depth", "-1"],
        ["prove", "twophase", "--property", "nope"],
        ["prove", "twophase", "--mutant", "nope"],
        ["prove", "twophase", "--depth", "x"],
    ],
)
def test_cli_prove_bad_input(argv, capsys):
    assert main(argv) == 150
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
