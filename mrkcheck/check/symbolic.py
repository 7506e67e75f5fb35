"""The symbolic engine: bounded model checking, k-induction and inductiveness checks with Z3.

It reads the same ground expressions as the explicit engine (through
:mod:`mrkcheck.check.z3_translate`) and returns the same result types, so a counterexample found here is
a :class:`~mrkcheck.check.result.Trace` that prints, saves as ITF and replays like any other.

What each answer means, plainly:

- :func:`bmc` explores every run of at most ``depth`` steps. A violation is a shortest one (depths
  are tried 0, 1, 2, ...). No violation is *not* a proof: the result's status is ``unknown`` with
  ``bounded_depth = depth`` ("holds up to depth k").
- :func:`inductive` checks Init => Inv and Inv /\\ Lemmas /\\ Type /\\ T => Inv' /\\ Lemmas' /\\ Type'.
  Success proves Inv (and the lemmas) on every reachable state of this instance. Failure gives a
  counterexample to induction (CTI): a pre-state, the instance that fired and the post-state; the
  pre-state need not be reachable.
- :func:`k_induction` generalises the step to k consecutive states (pairwise distinct, so that it
  is complete for finite models) with a base case of depth k - 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import z3

from mrkcheck import interrupts
from mrkcheck.check.compile import EvaluationError
from mrkcheck.check.result import (
    HOLDS,
    UNKNOWN,
    VIOLATED,
    CheckResult,
    PropertyResult,
    Stats,
    Step,
    Trace,
)
from mrkcheck.check.z3_translate import Encoding, Z3State
from mrkcheck.lang.expr import Expr, evaluate
from mrkcheck.lang.model import (
    ACTION,
    ALWAYS,
    SOMETIMES,
    Model,
    ModelError,
    Property,
    Schema,
    State,
    state_property,
)

# By default Z3 takes SIGINT for itself while it solves: it cancels the check (which then reads as
# a time-out) and Python never sees the signal. mrkcheck.interrupts stops Z3 itself, and raises.
z3.set_param("ctrl_c", False)

Lemma = Property | tuple[str, Expr]
Progress = Callable[[str], None]


# --- results --------------------------------------------------------------------------------------


@dataclass(repr=False)
class SymbolicPropertyResult(PropertyResult):
    """A verdict of the symbolic engine. ``bounded_depth`` set means "no violation in any run of
    at most that many steps" and nothing more; ``method`` says how a HOLDS was proved."""

    bounded_depth: int | None = None
    method: str = ""

    def describe(self) -> str:
        if self.status == VIOLATED:
            length = "" if self.trace is None else f" (trace of {len(self.trace)} steps)"
            return f"violated{length}"
        if self.status == HOLDS:
            if self.checked.kind == SOMETIMES:
                return f"reached (witness of {len(self.trace) if self.trace else 0} steps)"
            return f"proved ({self.method})" if self.method else "holds"
        if self.bounded_depth is not None:
            if self.checked.kind == SOMETIMES:
                return f"not reached up to depth {self.bounded_depth}"
            return f"holds up to depth {self.bounded_depth}"
        return "unknown"


@dataclass
class CTI:
    """A counterexample to induction: a run (usually one step) whose last state breaks a conjunct.

    ``steps[0]`` satisfies the induction hypothesis but need not be reachable.
    """

    steps: list[Step]
    failed: list[str]
    schema: Schema | None = None  # of the model the CTI lives in (for printing)

    def trace(self, model: str | Model = "", prop: str | None = None) -> Trace:
        """The CTI as a trace (its first state satisfies the hypothesis, not Init); given the
        model itself, the trace also says how to build it again (its options and source)."""
        assert self.schema is not None
        if isinstance(model, Model):
            options, source = dict(model.options), model.source
            return Trace(self.schema, self.steps, None, model.name, prop, options, source, True)
        return Trace(self.schema, self.steps, None, model, prop, cti=True)

    @property
    def pre(self) -> State:
        return self.steps[-2].state

    @property
    def post(self) -> State:
        return self.steps[-1].state

    @property
    def label(self) -> str:
        return self.steps[-1].label


@dataclass
class InductionResult:
    """The outcome of an inductiveness check of ``property_name`` (with ``lemmas``) on one instance."""

    property_name: str
    holds: bool
    k: int = 1
    lemmas: tuple[str, ...] = ()
    base: Trace | None = None  # a real run from Init that breaks the property or a lemma
    cti: CTI | None = None
    seconds: float = 0.0
    options: dict = field(default_factory=dict)
    timed_out: bool = False  # neither proved nor refuted: the time limit came first
    implied: bool = False  # a check that the lemmas imply the property (see implied())

    @property
    def method(self) -> str:
        if self.implied:
            return f"implied by {', '.join(self.lemmas)}"
        name = "induction" if self.k == 1 else f"{self.k}-induction"
        return f"{name} with lemmas {', '.join(self.lemmas)}" if self.lemmas else name


# --- helpers --------------------------------------------------------------------------------------


def _solver(deadline: float | None) -> z3.Solver:
    solver = z3.Solver()
    if deadline is not None:
        solver.set("timeout", max(1, int((deadline - time.perf_counter()) * 1000)))
    return solver


def _check(solver: z3.Solver, deadline: float | None, *extra: z3.BoolRef) -> z3.CheckSatResult:
    if deadline is not None:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return z3.unknown
        solver.set("timeout", max(1, int(remaining * 1000)))
    with interrupts.stoppable(solver.ctx):  # Ctrl-C stops Z3 even as the check starts
        return solver.check(*extra)


def _steps(enc: Encoding, zm: z3.ModelRef, states: list[Z3State], acts: list) -> list[Step]:
    steps = [Step(None, (), enc.decode(zm, states[0]))]
    for i, act in enumerate(acts[: len(states) - 1]):
        inst = enc.decode_action(zm, act)
        steps.append(Step(inst.action, inst.params, enc.decode(zm, states[i + 1])))
    return steps


def _trace(model: Model, steps: list[Step], prop: str | None) -> Trace:
    return Trace(model.schema, steps, None, model.name, prop, dict(model.options), model.source)


def _named(lemmas: Iterable[Lemma]) -> list[tuple[str, Expr]]:
    out = []
    for lemma in lemmas:
        if isinstance(lemma, Property):
            if lemma.kind != ALWAYS:
                raise ModelError(f"lemma {lemma.name} must be a state invariant")
            out.append((lemma.name, state_property(lemma).expr))
        else:
            out.append((lemma[0], lemma[1]))
    return out


def _property(model: Model, prop: Property | str) -> Property:
    return model.get_property(prop) if isinstance(prop, str) else prop


def _action_exprs(model: Model, prop: Property) -> list[Expr | None]:
    return [prop.for_action(inst) for inst in model.instances]


# --- bounded model checking -----------------------------------------------------------------------


@dataclass
class _Unrolling:
    """States s0..sk and action indices a0..a(k-1) of a growing BMC unrolling."""

    enc: Encoding
    solver: z3.Solver
    states: list[Z3State] = field(default_factory=list)
    acts: list[z3.ArithRef] = field(default_factory=list)

    def extend(self) -> None:
        k = len(self.states)
        s = self.enc.state(f"s{k}")
        if k == 0:
            self.solver.add(self.enc.init(s))
        else:
            act = self.enc.action(f"a{k - 1}")
            self.solver.add(self.enc.transition(self.states[-1], s, act))
            self.acts.append(act)
        self.states.append(s)


def bmc(
    model: Model,
    depth: int = 10,
    *,
    max_seconds: float | None = None,
    progress: Progress | None = None,
    check_domains: bool = True,
) -> CheckResult[SymbolicPropertyResult]:
    """Search runs of 0, 1, ..., ``depth`` steps for violations of every property of ``model``.

    Invariants and action properties found violated come back with a shortest trace; ``sometimes``
    goals reached come back HOLDS with a shortest witness. Everything else is UNKNOWN with
    ``bounded_depth`` = the last depth fully searched (which is less than ``depth`` when the time
    limit or Ctrl-C stopped the search).
    """
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    enc = Encoding(model)
    run = _Unrolling(enc, _solver(deadline))
    props = [p for p in model.properties if p.kind in (ALWAYS, ACTION, SOMETIMES)]
    action_exprs = {p.name: _action_exprs(model, p) for p in props if p.kind == ACTION}
    found: dict[str, Trace] = {}
    searched, stopped = -1, "max_depth"
    try:
        for k in range(depth + 1):
            if progress:
                progress(f"searching depth {k}, {time.perf_counter() - started:.1f}s")
            run.extend()
            if k > 0 and check_domains and not enc.stays_in_domain:
                _check_domain(model, enc, run, deadline)
            if k > 0:  # now known (or statically sure) to hold; it helps the solver prune
                run.solver.add(enc.type_ok(run.states[-1]))
            outcome = _bmc_depth(model, enc, run, props, action_exprs, found, deadline)
            if outcome == "unknown":
                stopped = "max_seconds"
                break
            searched = k
            if progress:
                progress(f"depth {k} searched, {time.perf_counter() - started:.1f}s")
            if all(p.name in found for p in props):
                stopped = "all_resolved"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
    seconds = time.perf_counter() - started
    results = [_bmc_verdict(p, found.get(p.name), searched) for p in model.properties]
    stats = Stats(depth=max(searched, 0), seconds=seconds)
    return CheckResult(
        model=model.name,
        engine="bmc",
        stats=stats,
        properties=results,
        complete=False,
        stopped=stopped,
        options={**dict(model.options), "bmc_depth": searched},
    )


def _bmc_verdict(prop: Property, trace: Trace | None, searched: int) -> SymbolicPropertyResult:
    if prop.kind == SOMETIMES:
        status = HOLDS if trace is not None else UNKNOWN
    elif prop.kind in (ALWAYS, ACTION):
        status = VIOLATED if trace is not None else UNKNOWN
    else:
        status = UNKNOWN  # liveness is not the symbolic engine's job
    bound = (
        None
        if trace is not None or searched < 0 or prop.kind not in (ALWAYS, ACTION, SOMETIMES)
        else searched
    )
    return SymbolicPropertyResult(prop, status, trace, bound, "bmc")


def _bad(
    model: Model,
    enc: Encoding,
    run: _Unrolling,
    prop: Property,
    action_exprs: dict[str, list[Expr | None]],
) -> z3.BoolRef | None:
    """The formula "prop fails (or, for a goal, is reached) at the last state of ``run``"."""
    last = run.states[-1]
    if prop.kind == ALWAYS:
        return z3.Not(enc.holds(state_property(prop).expr, last))
    if prop.kind == SOMETIMES:
        return enc.holds(state_property(prop).expr, last)
    if len(run.states) < 2:
        return None
    pre, act = run.states[-2], run.acts[-1]
    return z3.Not(enc.action_property(action_exprs[prop.name], pre, last, act))


def _bmc_depth(
    model: Model,
    enc: Encoding,
    run: _Unrolling,
    props: list[Property],
    action_exprs: dict[str, list[Expr | None]],
    found: dict[str, Trace],
    deadline: float | None,
) -> str:
    """Check every open property at the current depth; one joint query first, as most are unsat."""
    open_bad = [(p, _bad(model, enc, run, p, action_exprs)) for p in props if p.name not in found]
    open_bad = [(p, b) for p, b in open_bad if b is not None]
    if not open_bad:
        return "done"
    joint = _check(run.solver, deadline, z3.Or([b for _, b in open_bad]))
    if joint == z3.unknown:
        return "unknown"
    if joint == z3.unsat:
        return "done"
    for prop, bad in open_bad:
        answer = _check(run.solver, deadline, bad)
        if answer == z3.unknown:
            return "unknown"
        if answer == z3.sat:
            steps = _steps(enc, run.solver.model(), run.states, run.acts)
            found[prop.name] = _trace(model, steps, prop.name)
    return "done"


def _check_domain(model: Model, enc: Encoding, run: _Unrolling, deadline: float | None) -> None:
    """Raise EvaluationError if some run reaches a value outside its variable's domain."""
    if _check(run.solver, deadline, z3.Not(enc.type_ok(run.states[-1]))) == z3.sat:
        zm = run.solver.model()
        steps = _steps(enc, zm, run.states, run.acts)
        bad = [
            enc.names[i]
            for i, v in enumerate(steps[-1].state)
            if not enc.bounds[i][0] <= v <= enc.bounds[i][1]
        ]
        error = EvaluationError(
            f"{steps[-1].label} sets {', '.join(bad)} outside its domain "
            f"after {len(steps) - 1} steps",
            steps[-1].label,
        )
        error.trace = _trace(model, steps[:-1], None)  # the run up to the failing step
        raise error


# --- induction ------------------------------------------------------------------------------------


def inductive(
    model: Model,
    prop: Property | str,
    lemmas: Sequence[Lemma] = (),
    *,
    max_seconds: float | None = None,
) -> InductionResult:
    """Is ``prop`` /\\ ``lemmas`` inductive? (1-induction, lemmas proved alongside the property.)

    For an action property the step checks Lemmas /\\ Type /\\ T => A and Lemmas' (the lemmas carry
    the induction; the action property only has to follow from them).
    """
    return k_induction(model, prop, 1, lemmas, max_seconds=max_seconds)


def k_induction(
    model: Model,
    prop: Property | str,
    max_k: int = 4,
    lemmas: Sequence[Lemma] = (),
    *,
    max_seconds: float | None = None,
) -> InductionResult:
    """Try k-induction for k = 1..``max_k``; the result carries the last CTI when all fail."""
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    prop = _property(model, prop)
    named = _named(lemmas)
    enc = Encoding(model)
    base = _base_case(model, enc, prop, named, max_k, deadline)
    if base is not None:
        return _induction_result(model, prop, named, started, 0, base=base)
    cti: CTI | None = None
    for k in range(1, max_k + 1):
        found = _step_case(model, enc, prop, named, k, deadline)
        if found is None:
            return _induction_result(model, prop, named, started, k)
        if not isinstance(found, CTI):  # "unknown": the time limit was reached
            return _induction_result(model, prop, named, started, k, timed_out=True)
        cti = found
    return _induction_result(model, prop, named, started, max_k, cti=cti)


def _induction_result(
    model: Model,
    prop: Property,
    named: list[tuple[str, Expr]],
    started: float,
    k: int,
    base: Trace | None = None,
    cti: CTI | None = None,
    timed_out: bool = False,
) -> InductionResult:
    return InductionResult(
        prop.name,
        base is None and cti is None and not timed_out,
        k,
        tuple(n for n, _ in named),
        base,
        cti,
        time.perf_counter() - started,
        dict(model.options),
        timed_out,
    )


def _conjuncts(
    enc: Encoding, prop: Property, named: list[tuple[str, Expr]], s: Z3State
) -> list[tuple[str, z3.BoolRef]]:
    """The named conjuncts of the induction hypothesis at state ``s`` (the domain is one)."""
    parts = [(n, enc.holds(e, s)) for n, e in named]
    if prop.kind == ALWAYS:
        parts.insert(0, (prop.name, enc.holds(state_property(prop).expr, s)))
    return parts + [("domains", enc.type_ok(s))]


def _base_case(model, enc, prop, named, k, deadline) -> Trace | None:
    """A run of fewer than ``k`` steps from Init that breaks a conjunct (None: there is none)."""
    run = _Unrolling(enc, _solver(deadline))
    exprs = _action_exprs(model, prop) if prop.kind == ACTION else None
    for depth in range(k):
        run.extend()
        last = run.states[-1]
        bad = [z3.Not(f) for _, f in _conjuncts(enc, prop, named, last)]
        if exprs is not None and depth > 0:
            bad.append(z3.Not(enc.action_property(exprs, run.states[-2], last, run.acts[-1])))
        if _check(run.solver, deadline, z3.Or(bad)) == z3.sat:
            steps = _steps(enc, run.solver.model(), run.states, run.acts)
            return _trace(model, steps, prop.name)
    return None


def _step_case(model, enc, prop, named, k, deadline) -> CTI | str | None:
    """k states satisfying the hypothesis, pairwise distinct, then one that breaks it."""
    solver = _solver(deadline)
    states = [enc.state(f"s{i}") for i in range(k + 1)]
    acts = [enc.action(f"a{i}") for i in range(k)]
    exprs = _action_exprs(model, prop) if prop.kind == ACTION else None
    for i in range(k):
        solver.add([f for _, f in _conjuncts(enc, prop, named, states[i])])
        solver.add(enc.transition(states[i], states[i + 1], acts[i]))
        if exprs is not None and i < k - 1:
            solver.add(enc.action_property(exprs, states[i], states[i + 1], acts[i]))
        for j in range(i):
            solver.add(enc.distinct(states[j], states[i]))
    goal = [f for _, f in _conjuncts(enc, prop, named, states[k])]
    if exprs is not None:
        goal.append(enc.action_property(exprs, states[k - 1], states[k], acts[k - 1]))
    answer = _check(solver, deadline, z3.Not(z3.And(goal)))
    if answer == z3.unknown:
        return "unknown"
    if answer == z3.unsat:
        return None
    steps = _steps(enc, solver.model(), states, acts)
    return CTI(steps, _failed(model, prop, named, steps), model.schema)


def _failed(
    model: Model, prop: Property, named: list[tuple[str, Expr]], steps: list[Step]
) -> list[str]:
    """Which conjuncts the last state of a CTI breaks, evaluated concretely (a cross-check)."""
    post = steps[-1].state
    checks = list(named)
    if prop.kind == ALWAYS:
        checks.insert(0, (prop.name, state_property(prop).expr))
    failed = [n for n, e in checks if not evaluate(e, post)]
    if prop.kind == ACTION:
        inst = model.instance(steps[-1].label)
        expr = prop.for_action(inst)
        if expr is not None and not evaluate(expr, steps[-2].state, post):
            failed.insert(0, prop.name)
    slots = model.schema.slots()
    if any(not var.domain.contains(post[slot]) for var, _, slot in slots):
        failed.append("domains")
    return failed


def implied(
    model: Model,
    prop: Property | str,
    lemmas: Sequence[Lemma],
    *,
    max_seconds: float | None = None,
) -> InductionResult:
    """Does every state within the domains that satisfies ``lemmas`` satisfy invariant ``prop``?

    With the lemmas proved inductive (and true initially), this proves ``prop`` on every reachable
    state without putting it into the induction hypothesis. A failure is a single state (a CTI of
    length 0 in ``cti.steps``) that satisfies the lemmas and breaks the property."""
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    prop = _property(model, prop)
    if prop.kind != ALWAYS:
        raise ModelError(f"{prop.name} is not a state invariant")
    named = _named(lemmas)
    enc = Encoding(model)
    solver = _solver(deadline)
    s = enc.state("s")
    solver.add(enc.type_ok(s), *(enc.holds(e, s) for _, e in named))
    answer = _check(solver, deadline, z3.Not(enc.holds(state_property(prop).expr, s)))
    cti = None
    if answer == z3.sat:
        cti = CTI([Step(None, (), enc.decode(solver.model(), s))], [prop.name], model.schema)
    result = _induction_result(
        model, prop, named, started, 0, cti=cti, timed_out=answer == z3.unknown
    )
    result.implied = True
    return result


# --- successors (for cross-checks with the explicit engine) ---------------------------------------


class SymbolicSuccessors:
    """Enumerate every model of T(pre, post) for a fixed pre-state, by blocking clauses.

    Used by the tests to show that the Z3 transition relation has exactly the explicit engine's
    successors: no more (every model is a real step), no fewer (all are enumerated).
    """

    def __init__(self, model: Model):
        self.enc = Encoding(model)
        self.pre = self.enc.state("pre")
        self.post = self.enc.state("post")
        self.act = self.enc.action("step")
        self.solver = z3.Solver()
        self.solver.add(self.enc.transition(self.pre, self.post, self.act))

    def __call__(self, state: State) -> list[tuple[int, State]]:
        out: list[tuple[int, State]] = []
        self.solver.push()
        self.solver.add(self.enc.equals(self.pre, state))
        while self.solver.check() == z3.sat:
            zm = self.solver.model()
            j = zm.eval(self.act, model_completion=True).as_long()
            t = self.enc.decode(zm, self.post)
            out.append((j, t))
            self.solver.add(z3.Or(self.act != j, z3.Not(self.enc.equals(self.post, t))))
        self.solver.pop()
        return sorted(out)
