"""Replay: is a trace a run of the model? If not, which step is the first that is not, and why.

A trace read from disk may come from an older model, another tool, or a hand edit. Replaying it
through the compiled step function answers the one question that matters before trusting it:
the first state is initial, every step's action instance exists and is enabled in the state
before it, and its successor is the state after it. When a guard fails, the report names the
first failing guard (and the error a refused API call returns), so the reader sees *why*.

A lasso (a trace with a ``loop``) must also be a *weakly fair* run, as every liveness
counterexample is: each environment instance is taken in the loop or disabled in one of the loop's
states. Otherwise the loop is no behaviour of the system (the environment step would happen), and
the report names the instance enabled throughout the loop and never taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from mrkcheck.check.compile import Compiled, compile_model
from mrkcheck.check.result import Step, Trace
from mrkcheck.lang.expr import Expr, evaluate, show
from mrkcheck.lang.model import ActionInstance, Model, Schema, State


@dataclass(frozen=True)
class Replay:
    """The verdict: ``step`` is the first step that is not part of a run (None when all are)."""

    ok: bool
    steps: int
    step: int | None = None
    reason: str = ""
    violates: tuple[str, ...] = ()  # invariants false in the last state, action properties
    # broken by the last step (for the report)

    def line(self) -> str:
        if self.ok:
            return f"the trace is a run of the model ({self.steps} steps)"
        return f"step {self.step}: {self.reason}"


def replay(model: Model, trace: Trace, compiled: Compiled | None = None) -> Replay:
    """Check that ``trace`` is a run of ``model`` (see the module docstring)."""
    compiled = compiled or compile_model(model)
    steps = trace.steps
    # A counterexample to induction starts anywhere the induction hypothesis holds.
    failure = None if trace.cti else _check_initial(model, steps[0])
    if failure is None:
        failure = _check_transitions(model, compiled, steps)
    if failure is None and trace.loop is not None:
        failure = _check_loop(model, compiled, steps, trace.loop)
        failure = failure or _check_fairness(model, compiled, steps, trace.loop)
    if failure is not None:
        return Replay(False, len(trace), failure[0], failure[1])
    bad = list(compiled.violated(steps[-1].state) or [])
    if len(steps) > 1:
        bad += _broken_action_properties(model, compiled, steps[-2].state, steps[-1])
    bad += [p for p, prop in enumerate(model.properties) if _lasso_violates(prop, trace)]
    violates = tuple(model.properties[p].name for p in sorted(set(bad)))
    return Replay(True, len(trace), violates=violates)


def _lasso_violates(prop, trace: Trace) -> bool:
    """A lasso violates ``P ~> Q`` when some state satisfies P and no state from there on, round
    the loop included, satisfies Q (the loop is known to be a weakly fair run)."""
    if prop.kind != "eventually" or trace.loop is None:
        return False
    states = [step.state for step in trace.steps]
    for premise, goal in prop.leads_to_cases():
        for i, state in enumerate(states):
            starts = evaluate(premise, state) if premise is not None else i == 0
            if starts and not any(evaluate(goal, t) for t in states[min(i, trace.loop) :]):
                return True
    return False


def _broken_action_properties(model: Model, compiled: Compiled, before: State, step: Step):
    """Action properties that the last transition breaks (it is known to be a real step)."""
    out: list[tuple[int, State]] = []
    bad: list[tuple[int, int, State]] = []
    compiled.step(before, out, bad)
    k = next(
        k
        for k, i in enumerate(model.instances)
        if (i.action, i.params) == (step.action, step.params)
    )
    return [p for p, index, t in bad if index == k and t == step.state]


def _check_initial(model: Model, first: Step) -> tuple[int, str] | None:
    if first.action is not None:
        return 0, f"the first state is labelled {first.label}, expected Init"
    if first.state not in model.initial:
        return 0, "the first state is not an initial state of the model" + _diff(
            model, model.initial[0], first.state, "the initial state has"
        )
    return None


def _check_transitions(
    model: Model, compiled: Compiled, steps: list[Step]
) -> tuple[int, str] | None:
    index_of = _instance_numbers(model)
    for i in range(1, len(steps)):
        step, before = steps[i], steps[i - 1].state
        if step.action is None:
            return i, "the step names no action"
        k = index_of.get((step.action, step.params))
        if k is None:
            return i, f"the model has no action instance {step.label}"
        failure = _check_step(model, compiled, k, before, step.state)
        if failure:
            return i, failure
    return None


def _instance_numbers(model: Model) -> dict[tuple[str | None, tuple[tuple[str, str], ...]], int]:
    """Each instance's position, keyed as a trace step names it (an initial step, whose action
    is None, names none)."""
    return {(inst.action, inst.params): k for k, inst in enumerate(model.instances)}


def _check_step(model: Model, compiled: Compiled, k: int, before: State, after: State) -> str:
    """Empty when instance ``k`` leads from ``before`` to ``after``, else the reason it does not."""
    inst = model.instances[k]
    successor = _successor(compiled, k, before)
    if successor is None:
        why = _failing_guard(model.schema, inst, before)
        return f"{inst.label} is not enabled in the state before it{why}"
    if successor != after:
        return f"{inst.label} leads elsewhere" + _diff(model, successor, after, "the model gives")
    return ""


def _successor(compiled: Compiled, k: int, state: State) -> State | None:
    return next((t for i, t in _moves(compiled, state) if i == k), None)


def _failing_guard(schema: Schema, inst: ActionInstance, state: State) -> str:
    for position, guard in enumerate(inst.guards, start=1):
        if not evaluate(guard.condition, state):
            error = f" ({guard.error})" if guard.error else ""
            return f": guard {position} `{expr_text(schema, guard.condition)}` is false{error}"
    return ""


def expr_text(schema: Schema, expr: Expr) -> str:
    """A TLA+-like text of an expression, constants shown by their value names when known."""
    return show(expr, lambda var, value: schema.variable(var.name).domain.show(value))


def _check_loop(
    model: Model, compiled: Compiled, steps: list[Step], loop: int
) -> tuple[int, str] | None:
    if loop == len(steps) - 1:
        return None  # the last state stutters forever (no environment step is enabled there)
    if _closing_instances(compiled, steps[-1].state, steps[loop].state):
        return None
    return len(steps), f"no action leads from the last state back to state {loop} (the loop)"


def _check_fairness(
    model: Model, compiled: Compiled, steps: list[Step], loop: int
) -> tuple[int, str] | None:
    """None when the loop is weakly fair, else (loop, a reason naming the first environment
    instance enabled in every state of the loop and never taken in it).

    The ITF file does not say which instance closes the loop (leads from the last state back to
    ``steps[loop]``); any one that does may be the one taken, so one such instance is excused.
    """
    index_of = _instance_numbers(model)
    taken = {index_of[(step.action, step.params)] for step in steps[loop + 1 :]}
    enabled = [_enabled(compiled, step.state) for step in steps[loop:]]
    always = set.intersection(*enabled) - taken
    owed = [k for k in sorted(always) if model.instances[k].environment]
    closing = _closing_instances(compiled, steps[-1].state, steps[loop].state)
    excused = next((k for k in owed if k in closing), None)
    unfair = [k for k in owed if k != excused]
    if not unfair:
        return None
    label = model.instances[unfair[0]].label
    return loop, (
        f"the loop (steps {loop}-{len(steps) - 1}) is not weakly fair: {label} is enabled in "
        "every state of the loop and never taken"
    )


def _enabled(compiled: Compiled, state: State) -> set[int]:
    return {i for i, _ in _moves(compiled, state)}


def _closing_instances(compiled: Compiled, last: State, back: State) -> set[int]:
    return {i for i, t in _moves(compiled, last) if t == back}


def _moves(compiled: Compiled, state: State) -> list[tuple[int, State]]:
    """Every (instance, successor) of ``state``."""
    out: list[tuple[int, State]] = []
    compiled.step(state, out, [])
    return out


def _diff(model: Model, expected: State, actual: State, said: str) -> str:
    """The first slot where two states differ, readably: ': rmState[rm1]: the model gives ...'."""
    for var, idx, slot in model.schema.slots():
        if expected[slot] != actual[slot]:
            want, got = var.domain.show(expected[slot]), var.domain.show(actual[slot])
            return f": {var[idx].label}: {said} {want}, the trace has {got}"
    return ""
