"""The explicit-state engine: breadth-first search, so every counterexample is a shortest one.

The search keeps a dictionary from each distinct (canonical) state to the state it was first reached
from and the action instance that led there; traces are rebuilt from those links and, under
symmetry reduction, replayed from the concrete initial state so that every trace is a real run.
Counting follows TLC: ``generated`` is every successor computed (self-loops and duplicates
included) plus the initial states; ``depth`` is the number of BFS levels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mrkcheck.check.compile import Compiled, EvaluationError, compile_model
from mrkcheck.check.result import (
    ALL_VIOLATED,
    FIRST_VIOLATION,
    HOLDS,
    INTERRUPTED,
    OUT_OF_MEMORY,
    UNKNOWN,
    VIOLATED,
    CheckResult,
    PropertyResult,
    Stats,
    Step,
    Trace,
)
from mrkcheck.check.stategraph import StateGraph
from mrkcheck.check.symmetry import canonicalizer
from mrkcheck.lang.model import ACTION, ALWAYS, EVENTUALLY, SOMETIMES, Model, State

PROGRESS_INTERVAL = (
    1.0  # seconds between calls of the progress callback (checked every 1024 states)
)

Progress = Callable[[Stats], None]


@dataclass
class Limits:
    max_states: int | None = None
    max_depth: int | None = None
    max_seconds: float | None = None


@dataclass
class _Search:
    """The mutable state of one breadth-first search."""

    model: Model
    canon: Callable[[State], State] | None
    parent: dict[State, tuple[State | None, int]] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    violations: dict[int, Trace] = field(default_factory=dict)
    witnesses: dict[int, Trace] = field(default_factory=dict)
    deadlock: Trace | None = None
    fired: list[int] = field(default_factory=list)  # successors generated, per action instance
    graph: StateGraph | None = None  # every edge too, when asked (for liveness, graph export)
    compiled: Compiled = field(init=False)  # set by the caller, inside its interruptible part


def check(
    model: Model,
    *,
    symmetry: bool = False,
    deadlock: bool = True,
    limits: Limits | None = None,
    progress: Progress | None = None,
    stop_when_all_violated: bool = True,
    record: StateGraph | None = None,
    stop_at_first_violation: bool = False,
) -> CheckResult:
    """Explore every reachable state of ``model`` breadth-first and check its properties.

    ``record``, an empty graph, is filled with every state and edge the search explores, so that
    liveness need not explore again (without symmetry only: fairness needs the unreduced graph).
    Ctrl-C (or SIGTERM, see :mod:`mrkcheck.interrupts`) and lack of memory end the search with
    what it found so far (``stopped`` says which); the visited states (and ``record``) are dropped
    first after a MemoryError, so that building the reports has memory again."""
    assert record is None or not symmetry, "the recorded graph must be the unreduced one"
    limits = limits or Limits()
    search = _Search(model, None, graph=record)
    started = time.perf_counter()
    stopped, complete = "exhausted", True
    try:  # compiling takes a moment too: cut there, the result has zero statistics
        search.compiled = compile_model(model)
        search.canon = canonicalizer(model) if symmetry else None
        stop = ALL_VIOLATED if stop_when_all_violated else ""
        if stop_at_first_violation:
            stop = FIRST_VIOLATION
        stopped = _explore(search, deadlock, limits, progress, started, stop)
        complete = stopped == "exhausted"
    except KeyboardInterrupt:
        stopped, complete = INTERRUPTED, False
    except MemoryError:
        stopped, complete = OUT_OF_MEMORY, False
    if stopped == OUT_OF_MEMORY:
        search.parent.clear()  # traces found are already built: the visited map is not needed
        if record is not None:
            record.clear()
    search.stats.seconds = time.perf_counter() - started
    return _result(search, complete, stopped, symmetry)


def _explore(
    search: _Search,
    deadlock: bool,
    limits: Limits,
    progress: Progress | None,
    started: float,
    stop_at: str,
) -> str:
    """Breadth-first search; returns how it stopped. ``stop_at``: ``ALL_VIOLATED`` once every
    property has a counterexample, ``FIRST_VIOLATION`` at the first property violated that is
    not a documented counterexample (TLC's default), or "" to search on."""
    model, compiled, canon, parent, stats, graph = (
        search.model,
        search.compiled,
        search.canon,
        search.parent,
        search.stats,
        search.graph,
    )
    names = [inst.action for inst in model.instances]
    fired = search.fired = [0] * len(names)
    found = [0] * len(names)
    frontier: list[State] = []
    for s0 in model.initial:
        stats.generated += 1
        c = canon(s0) if canon else s0
        if c not in parent:
            parent[c] = (None, -1)
            if graph is not None:
                graph.add(c, -1, -1)
            frontier.append(c)
            _check_state(search, c)
    stats.levels.append(len(frontier))
    stats.depth = 1 if frontier else 0
    step, violated = compiled.step, compiled.violated
    has_goals = bool(compiled.goals)
    checked_props = len(compiled.invariants) + len(compiled.action_properties)
    unexpected = {i for i, p in enumerate(model.properties) if p.expected != VIOLATED}
    seen = 0  # violations already looked at for FIRST_VIOLATION
    next_report = time.perf_counter() + PROGRESS_INTERVAL
    try:
        while frontier:
            if limits.max_depth is not None and stats.depth >= limits.max_depth:
                return "max_depth"
            upcoming: list[State] = []
            for count, s in enumerate(frontier):
                out: list[tuple[int, State]] = []
                bad: list[tuple[int, int, State]] = []
                step(s, out, bad)
                stats.generated += len(out)
                if not out and deadlock and search.deadlock is None and not compiled.terminal(s):
                    search.deadlock = _trace_to(search, s, None)
                for index, t in out:
                    fired[index] += 1
                    c = canon(t) if canon else t
                    if c in parent:
                        continue
                    parent[c] = (s, index)
                    if graph is not None:  # numbered in discovery order, the order of expansion
                        graph.add(c, graph.expanded, index)
                    found[index] += 1
                    upcoming.append(c)
                    if violated(c) is not None or has_goals:
                        _check_state(search, c)
                if graph is not None:
                    graph.expand(out)
                for prop, index, t in bad:
                    if prop not in search.violations:
                        search.violations[prop] = _trace_to(search, s, (index, t), prop)
                if stop_at and len(search.violations) > seen:
                    seen = len(search.violations)
                    if stop_at == ALL_VIOLATED and checked_props and seen >= checked_props:
                        return ALL_VIOLATED
                    if stop_at == FIRST_VIOLATION and not unexpected.isdisjoint(search.violations):
                        return FIRST_VIOLATION
                if count & 1023 == 0:
                    now = time.perf_counter()
                    if limits.max_seconds is not None and now - started > limits.max_seconds:
                        return "max_seconds"
                    if progress is not None and now >= next_report:
                        stats.distinct, stats.queue = (
                            len(parent),
                            len(upcoming) + len(frontier) - count,
                        )
                        stats.seconds = now - started
                        progress(stats)
                        next_report = now + PROGRESS_INTERVAL
                if limits.max_states is not None and len(parent) >= limits.max_states:
                    return "max_states"
            frontier = upcoming
            if frontier:
                stats.depth += 1
                stats.levels.append(len(frontier))
        return "exhausted"
    except EvaluationError as exc:  # the run that reaches the state, as TLC prints it
        exc.trace = _trace_to(search, s, None)
        raise
    finally:
        stats.distinct = len(parent)
        stats.queue = len(frontier)
        stats.fired = _per_action(names, fired)
        stats.found = _per_action(names, found)


def _per_action(names: list[str], counts: list[int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for name, n in zip(names, counts, strict=True):
        totals[name] = totals.get(name, 0) + n
    return totals


def _check_state(search: _Search, state: State) -> None:
    bad = search.compiled.violated(state)
    for prop in bad or ():
        if prop not in search.violations:
            search.violations[prop] = _trace_to(search, state, None, prop)
    for prop in search.compiled.satisfied(state):
        if prop not in search.witnesses:
            search.witnesses[prop] = _trace_to(search, state, None, prop)


def _trace_to(
    search: _Search,
    state: State,
    last: tuple[int, State] | None,
    prop: int | None = None,
) -> Trace:
    """The path from an initial state to ``state`` (then ``last``), as a real run of the model."""
    chain: list[tuple[int, State]] = []
    cursor: State | None = state
    while cursor is not None:
        prev, index = search.parent[cursor]
        chain.append((index, cursor))
        cursor = prev
    chain.reverse()
    if last is not None:
        chain.append(last)
    return trace_of_chain(search, chain, prop, last is not None)


def trace_of_chain(
    search: _Search, chain: list[tuple[int, State]], prop: int | None, ends_with_action: bool
) -> Trace:
    """The trace of a chain of (action instance, state) links from an initial state; the
    vectorised engine rebuilds its chains from its own parent links and shares this part."""
    steps = _concretize(search, chain, prop if ends_with_action else None)
    name = None if prop is None else search.model.properties[prop].name
    model = search.model
    return Trace(model.schema, steps, None, model.name, name, dict(model.options), model.source)


def _concretize(
    search: _Search, chain: list[tuple[int, State]], action_prop: int | None
) -> list[Step]:
    """Replay a chain of canonical states from a concrete initial state (identity without symmetry)."""
    model, canon = search.model, search.canon
    instances = model.instances
    if canon is None:
        return [_step(model, i, s) for i, s in chain]
    target0 = chain[0][1]
    current = next(s for s in model.initial if canon(s) == target0)
    steps = [_step(model, -1, current)]
    for position, (index, target) in enumerate(chain[1:], start=1):
        out: list[tuple[int, State]] = []
        bad: list[tuple[int, int, State]] = []
        search.compiled.step(current, out, bad)
        wanted = instances[index].action
        is_last = position == len(chain) - 1
        candidates = [
            (i, t)
            for i, t in out
            if canon(t) == canon(target)
            and (not is_last or action_prop is None or (action_prop, i, t) in bad)
        ]
        candidates.sort(key=lambda it: instances[it[0]].action != wanted)
        index, current = candidates[0]
        steps.append(_step(model, index, current))
    return steps


def _step(model: Model, index: int, state: State) -> Step:
    if index < 0:
        return Step(None, (), state)
    inst = model.instances[index]
    return Step(inst.action, inst.params, state)


def _result(search: _Search, complete: bool, stopped: str, symmetry: bool) -> CheckResult:
    results = []  # (a trace of 0 steps, a violation in an initial state, is falsy: `is not None`)
    for position, prop in enumerate(search.model.properties):
        if prop.kind in (ALWAYS, ACTION):
            trace = search.violations.get(position)
            status = VIOLATED if trace is not None else (HOLDS if complete else UNKNOWN)
        elif prop.kind == SOMETIMES:
            trace = search.witnesses.get(position)
            status = HOLDS if trace is not None else (VIOLATED if complete else UNKNOWN)
        else:
            assert prop.kind == EVENTUALLY
            trace, status = None, UNKNOWN  # liveness is the liveness engine's job
        results.append(PropertyResult(prop, status, trace))
    if stopped in (ALL_VIOLATED, FIRST_VIOLATION):
        complete = False
    cut = not complete and stopped not in (ALL_VIOLATED, FIRST_VIOLATION)
    return CheckResult(
        model=search.model.name,
        engine="explicit",
        stats=search.stats,
        properties=results,
        complete=complete,
        stopped=stopped,
        deadlock=search.deadlock,
        options={**dict(search.model.options), "symmetry": symmetry},
        never_enabled=_never_enabled(search) if complete and not symmetry else None,
        cut_phase="safety search" if cut else "",
    )


def _never_enabled(search: _Search) -> list[str]:
    """Labels of the instances that fired in no reachable state (TLC's coverage shows them as
    zero): dead code in the model, or a guard written wrongly. Only meaningful after a complete
    search without symmetry, which visits canonical representatives only. Instances refused by
    construction are left out: never firing is what they are for."""
    instances = search.model.instances
    return [
        inst.label
        for inst, n in zip(instances, search.fired, strict=True)
        if n == 0 and not inst.refused_by_construction
    ]


def successors(
    model: Model, state: State, compiled: Compiled | None = None
) -> list[tuple[str, State]]:
    """Every (action label, successor) of ``state``, in the model's action order."""
    compiled = compiled or compile_model(model)
    out: list[tuple[int, State]] = []
    compiled.step(state, out, [])
    return [(model.instances[i].label, t) for i, t in out]


def reachable(model: Model, symmetry: bool = False) -> dict[State, tuple[State | None, int]]:
    """The full parent map of the reachable graph (for tests, graph export and cross-checks)."""
    search = _Search(model, canonicalizer(model) if symmetry else None)
    search.compiled = compile_model(model)
    _explore(search, False, Limits(), None, time.perf_counter(), "")
    return search.parent


def explore_graph(model: Model, max_states: int | None = None) -> StateGraph:
    """Every reachable state and every edge of ``model`` (no symmetry reduction), recorded by one
    search; ``complete`` is False if there are more than ``max_states`` states."""
    graph = StateGraph(model)
    search = _Search(model, None, graph=graph)
    search.compiled = compile_model(model)
    limits = Limits(max_states=None if max_states is None else max_states + 1)
    stopped = _explore(search, False, limits, None, time.perf_counter(), "")
    graph.complete = stopped == "exhausted"
    return graph
