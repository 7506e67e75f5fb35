"""Every liveness counterexample is a weakly fair run, and `trace check` rejects unfair lassos.

Weak fairness is per environment action instance: a lasso is fair when each environment instance
is taken in its loop (the step that closes the loop included) or disabled in one of its states.
``unfair_instances`` below decides that independently of the engine: enabledness comes from the
interpreted guards (``ActionInstance.refusal``), not from the compiled step function or the state
graph that built the lasso.
"""

from pathlib import Path

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.check.liveness import add_liveness, check_liveness
from mrkcheck.check.result import VIOLATED, Step, Trace
from mrkcheck.cli import main
from mrkcheck.lang.expr import ite
from mrkcheck.lang.model import Model, ModelBuilder, Transition
from mrkcheck.model.mutants import MUTANTS
from mrkcheck.traces.replay import replay

UNFAIR_FIXTURE = Path(__file__).parent / "fixtures" / "unfair-sync_never_runs.itf.json"


def unfair_instances(model: Model, trace: Trace) -> list[str]:
    """Environment instances enabled in every loop state and taken nowhere in the loop, for the
    best choice of the instance closing the loop (ITF does not record it); [] when fair."""
    loop_states = [step.state for step in trace.steps[trace.loop :]]
    taken = {step.label for step in trace.steps[trace.loop + 1 :]}
    always = [
        inst.label
        for inst in model.instances
        if inst.environment
        and inst.label not in taken
        and all(inst.refusal(s) is None for s in loop_states)
    ]
    last, back = loop_states[-1], loop_states[0]
    closing = [
        inst.label
        for inst in model.instances
        if inst.refusal(last) is None and inst.apply(last) == back
    ]
    return min(([a for a in always if a != c] for c in closing + [None]), key=len)


def liveness_lassos(model: Model) -> list[tuple[str, Trace]]:
    return [(r.name, r.trace) for r in check_liveness(model) if r.status == VIOLATED]


def liveness_cases() -> list[tuple[str, list[str]]]:
    """(mutant, the properties it violates): every mutant breaking a liveness property, checked
    for the ``eventually`` properties it must break, and "none", the unmutated model, checked for
    all of them (it violates L6 on purpose). Mutants leave the properties as they are."""
    from mrkcheck.model.kms import build

    live = {p.name for p in build().properties if p.kind == "eventually"}
    cases = [("none", ["pending_replica_deletion_ends"])]
    for mutant in MUTANTS:
        breaks = [n for n in (mutant.breaks, *mutant.also) if n in live]
        if breaks:
            cases.append((mutant.name, breaks))
    return cases


@pytest.mark.parametrize(
    ("name", "breaks"), liveness_cases(), ids=lambda v: v if isinstance(v, str) else "+".join(v)
)
def test_every_catalogue_lasso_is_weakly_fair(name, breaks):
    from mrkcheck.model.kms import build

    if name == "none":
        model = build()
        model = model.select([p.name for p in model.properties if p.kind == "eventually"])
    else:
        model = next(m for m in MUTANTS if m.name == name).build().select(breaks)
    lassos = liveness_lassos(model)
    assert [prop for prop, _ in lassos] == breaks
    for prop, trace in lassos:
        assert trace.loop is not None, prop
        assert unfair_instances(model, trace) == [], prop
        assert replay(model, trace).ok, prop


def test_trace_check_rejects_the_old_unfair_sync_never_runs_lasso(capsys):
    assert main(["trace", "check", str(UNFAIR_FIXTURE)]) == 12
    out = capsys.readouterr().out
    assert "step 4: the loop (steps 4-6) is not weakly fair" in out
    assert "AutomaticRotation(s=k1, r=us-east-1) is enabled in every state of the loop" in out


def test_the_fixture_is_a_run_and_unfair_by_the_independent_check():
    """The fixture fails only for fairness: every step is real, and the test's own check finds
    the instance that `trace check` names."""
    from mrkcheck.traces.itf import read_itf

    model = next(m for m in MUTANTS if m.name == "sync_never_runs").build()
    trace = read_itf(UNFAIR_FIXTURE, model.schema)
    assert unfair_instances(model, trace) == ["AutomaticRotation(s=k1, r=us-east-1)"]
    verdict = replay(model, trace)
    assert (verdict.ok, verdict.step) == (False, trace.loop)


# --- a three-state ring: the loop must reach the state where Finish is disabled -------------------


def ring(back_is_environment: bool = False, finish_disabled_at: int = 2) -> Model:
    """``pos`` goes round 0 -> 1 -> 2 -> 0 (Step); Back returns from 1 to 0. The environment step
    Finish (disabled at ``pos = finish_disabled_at``) sets ``done``, so ``pos = 0 ~> done`` fails
    only on loops through that state. With ``back_is_environment`` Back is an environment step
    too (enabled at 0 and 1)."""
    m = ModelBuilder("ring")
    pos = m.variable("pos", range(3)).ref
    done = m.variable("done", bool, init=False).ref

    @m.action()
    def Step() -> Transition:
        return Transition(guards=[done.eq(False)], effects=[(pos, ite(pos.eq(2), 0, pos + 1))])

    @m.action(environment=back_is_environment)
    def Back() -> Transition:
        return Transition(guards=[done.eq(False), pos.ne(2)], effects=[(pos, 0)])

    @m.action(environment=True)
    def Finish() -> Transition:
        guards = [done.eq(False), pos.ne(finish_disabled_at)]
        return Transition(guards=guards, effects=[(done, True)])

    m.leads_to("finishes", pos.eq(0), done.eq(True))
    return m.build()


def lasso(model: Model, labels: list[str], loop: int) -> Trace:
    """The run from the initial state through the instances named by ``labels``."""
    steps = [Step(None, (), model.initial[0])]
    for label in labels:
        inst = model.instance(label)
        steps.append(Step(inst.action, inst.params, inst.apply(steps[-1].state)))
    return Trace(model.schema, steps, loop, model.name, "finishes", {})


def test_ring_lasso_goes_round_to_the_state_disabling_finish():
    model = ring()
    result = add_liveness(check(model, deadlock=False), model).result("finishes")
    assert result.status == VIOLATED
    states = {step.state[0] for step in result.trace.steps[result.trace.loop :]}
    assert 2 in states  # the shorter loop 0 -> 1 -> 0 keeps Finish enabled
    assert unfair_instances(model, result.trace) == []


def test_replay_names_the_instance_an_unfair_loop_never_takes():
    model = ring()
    verdict = replay(model, lasso(model, ["Step()"], loop=0))  # 0 -> 1, Back closes the loop
    assert (verdict.ok, verdict.step) == (False, 0)
    assert verdict.reason == (
        "the loop (steps 0-1) is not weakly fair: Finish() is enabled in every state of the "
        "loop and never taken"
    )
    assert replay(model, lasso(model, ["Step()", "Step()"], loop=0)).ok  # 0 -> 1 -> 2, Step


def test_replay_stuttering_end_is_fair_only_without_an_enabled_environment_step():
    model = ring()
    assert replay(model, lasso(model, ["Step()", "Step()"], loop=2)).ok  # stutter at pos 2
    verdict = replay(model, lasso(model, ["Step()"], loop=1))  # stutter at pos 1
    assert not verdict.ok
    assert "Finish() is enabled in every state of the loop" in verdict.reason


def test_replay_counts_the_step_that_closes_the_loop_as_taken():
    """Back, an environment step here, is enabled in both states of the loop 0 -> 1 and taken
    only by the step that closes it (ITF leaves that step out); Finish is disabled at 1."""
    model = ring(back_is_environment=True, finish_disabled_at=1)
    trace = lasso(model, ["Step()"], loop=0)
    assert unfair_instances(model, trace) == []
    assert replay(model, trace).ok
    unfair = ring(back_is_environment=True, finish_disabled_at=2)  # Finish enabled at 0 and 1
    assert "Finish() is enabled" in replay(unfair, trace).reason
