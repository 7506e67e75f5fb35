"""Liveness: ``P ~> Q`` (leads-to) under weak fairness of every environment action instance.

A behaviour violates ``P ~> Q`` when it reaches a state satisfying P and then never satisfies Q.
Only environment steps are fair (a replica finishing Creating, an update finishing, a Sync, a
deletion coming due): API calls are the user's choice and may stop at any time, so a behaviour
may stutter forever wherever no environment step is enabled.

On the explicit state graph a counterexample is a lasso: a path to a P-and-not-Q state, then a
path through not-Q states into either

- a *fair strongly connected component* of not-Q states (networkx finds them): one in which every
  environment instance enabled in all of its states is also taken on one of its edges. Weak
  fairness is decided per component exactly: a cycle that visits every state and the required
  edges of a fair component is a fair behaviour, and no cycle inside an unfair one is. The loop
  of the lasso is such a cycle, cut short: for each environment instance it passes an edge taking
  it or a state where it is disabled, so every counterexample is a weakly fair run; or
- a not-Q state with no environment step enabled, where stuttering forever is fair.

The prefix reaches the nearest premise state from which a violation is possible (breadth-first),
then takes the shortest path to a fair end; the whole lasso is short but not guaranteed minimal.

The lasso is a :class:`~mrkcheck.check.result.Trace` whose ``loop`` is the index of the state that
follows the last one (ITF's ``loop``); ``loop == len(steps) - 1`` means stuttering forever.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mrkcheck.check.compile import compile_model, to_python
from mrkcheck.check.result import (
    HOLDS,
    INTERRUPTED,
    OUT_OF_MEMORY,
    UNKNOWN,
    VIOLATED,
    CheckResult,
    PropertyResult,
    Step,
    Trace,
)
from mrkcheck.check.stategraph import StateGraph
from mrkcheck.lang.model import EVENTUALLY, LeadsTo, Model, Property, State

Progress = Callable[[str], None]


def build_graph(
    model: Model,
    max_states: int | None = None,
    progress: Progress | None = None,
    graph: StateGraph | None = None,
) -> StateGraph:
    """Breadth-first exploration keeping every edge, or the rest of it: ``graph`` is one the
    safety search recorded, complete or (when it stopped once every property was violated)
    expanded only up to where it stopped."""
    step = compile_model(model).step
    if graph is None:
        graph = StateGraph(model)
        for s in model.initial:
            graph.add(s, -1, -1)
    if max_states is not None and len(graph.states) > max_states:
        graph.complete = False
        return graph
    next_report = time.perf_counter() + 1.0
    while graph.expanded < len(graph.states):
        n = graph.expanded
        if progress is not None and n & 1023 == 0:
            now = time.perf_counter()
            if now >= next_report:
                queue = len(graph.states) - n
                progress(f"state graph: {len(graph.states):,} states, queue {queue:,}")
                next_report = now + 1.0
        out: list[tuple[int, State]] = []
        step(graph.states[n], out, [])
        for instance, t in out:
            _, new = graph.add(t, n, instance)
            if new and max_states is not None and len(graph.states) > max_states:
                graph.complete = False
                return graph
        graph.expand(out)
    return graph


def _predicate(expr) -> Callable[[State], bool]:
    code = compile(f"lambda s: bool({to_python(expr)})", "<liveness>", "eval")
    return eval(code)  # noqa: S307 - generated from the model's own expression tree


def check_leads_to(graph: StateGraph, prop: Property) -> PropertyResult:
    """Decide every ``premise ~> goal`` case of ``prop`` on ``graph``; the first violated case
    (in the property's order) comes back with a lasso."""
    assert isinstance(prop, LeadsTo), f"{prop.name} is not a leads-to property"
    if not graph.complete:
        return PropertyResult(prop, UNKNOWN)
    found = [
        trace
        for premise, goal in prop.leads_to_cases()
        if (trace := _violation(graph, prop, premise, goal)) is not None
    ]
    if not found:
        return PropertyResult(prop, HOLDS)
    return PropertyResult(prop, VIOLATED, min(found, key=len))  # the first of the shortest


def _violation(graph: StateGraph, prop: Property, premise_expr, goal_expr) -> Trace | None:
    premise = _predicate(premise_expr) if premise_expr is not None else None
    goal = _predicate(goal_expr)
    env = [inst.environment for inst in graph.model.instances]
    bad = [not goal(s) for s in graph.states]
    starts = [
        n
        for n, s in enumerate(graph.states)
        if bad[n] and (premise(s) if premise else graph.parent[n] == -1)
    ]
    if not starts:
        return None
    region = _reachable_within(graph, starts, bad)
    targets = _fair_targets(graph, region, env)
    if not targets:
        return None
    start, entry_path = _closest_start(graph, starts, bad, targets)
    cycle = targets.cycle_from(graph, entry_path[-1], env)
    return _lasso(graph, prop, start, entry_path, cycle)


def _reachable_within(graph: StateGraph, starts: list[int], bad: list[bool]) -> set[int]:
    seen = set(starts)
    queue = deque(starts)
    while queue:
        n = queue.popleft()
        for m in graph.successors(n):
            if bad[m] and m not in seen:
                seen.add(m)
                queue.append(m)
    return seen


@dataclass
class _Targets:
    """Where a violation can end: states of fair components and states where stuttering forever
    is fair. A component's fair cycle is built from the state where the lasso enters it."""

    component: dict[int, int] = field(default_factory=dict)  # state -> component number
    members: list[set[int]] = field(default_factory=list)
    stutter: set[int] = field(default_factory=set)

    def __contains__(self, n: int) -> bool:
        return n in self.component or n in self.stutter

    def __bool__(self) -> bool:
        return bool(self.component or self.stutter)

    def cycle_from(self, graph: StateGraph, entry: int, env: list[bool]) -> list[tuple[int, int]]:
        if entry in self.stutter:  # the shorter lasso: stutter here forever
            return []
        return _fair_cycle(graph, self.members[self.component[entry]], env, entry)


def _fair_targets(graph: StateGraph, region: set[int], env: list[bool]) -> _Targets:
    import networkx as nx  # lazily: networkx takes longer to import than most commands run

    sub: nx.DiGraph[int] = nx.DiGraph()
    sub.add_nodes_from(sorted(region))
    for n in sorted(region):
        for m in graph.successors(n):
            if m in region:
                sub.add_edge(n, m)
    targets = _Targets()
    for component in nx.strongly_connected_components(sub):
        members = set(component)
        if _is_fair_component(graph, members, env):
            for n in members:
                targets.component[n] = len(targets.members)
            targets.members.append(members)
    for n in sorted(region):
        if not _env_enabled(graph, n, env):
            targets.stutter.add(n)  # no environment step enabled: stuttering forever is fair
    return targets


def _env_enabled(graph: StateGraph, n: int, env: list[bool]) -> set[int]:
    """The environment instances enabled in state ``n`` (those with an edge out of it)."""
    return {i for _, i in graph.edges(n) if env[i]}


def _is_fair_component(graph: StateGraph, members: set[int], env: list[bool]) -> bool:
    """A component holds a weakly fair cycle iff it has an edge inside it and every environment
    instance enabled in all of its states is taken on one of its inner edges: a cycle through
    every state and those edges is then fair, and no cycle inside it can be fair otherwise."""
    taken = {i for n in members for m, i in graph.edges(n) if m in members}
    if not taken:
        return False  # a single state without a self-loop: no cycle at all
    enabled_everywhere = set.intersection(*(_env_enabled(graph, n, env) for n in members))
    return enabled_everywhere <= taken


def _fair_cycle(
    graph: StateGraph, members: set[int], env: list[bool], start: int
) -> list[tuple[int, int]]:
    """A weakly fair cycle from ``start`` inside a fair component, as (state, instance) steps
    that begin with ``(start, -1)`` and end back at ``start``.

    Every environment instance must be taken on the cycle or disabled in one of its states. The
    cycle walks greedily to the nearest witness (an edge taking, or a state disabling, an
    instance still owed) until none is owed, then takes the shortest way back to ``start``.
    """
    enabled = {n: _env_enabled(graph, n, env) for n in members}
    owed = enabled[start]
    cycle: list[tuple[int, int]] = [(start, -1)]
    at = start
    while owed or len(cycle) == 1:  # a cycle takes at least one step
        for m, i in _path_to_witness(graph, at, enabled, owed):
            owed = (owed & enabled[m]) - {i}
            cycle.append((m, i))
            at = m
    return cycle + _path_within(graph, at, start, members)


def _path_to_witness(
    graph: StateGraph, src: int, enabled: dict[int, set[int]], owed: set[int]
) -> list[tuple[int, int]]:
    """Shortest path from ``src`` inside the component (the keys of ``enabled``) whose last step
    takes an owed instance or enters a state where one is disabled (owing nothing: any step)."""
    back: dict[int, tuple[int, int]] = {src: (-1, -1)}
    queue = deque([src])
    while queue:
        n = queue.popleft()
        for m, i in graph.edges(n):
            if m not in enabled:
                continue
            if not owed or i in owed or not owed <= enabled[m]:
                return _walk_back(back, src, n) + [(m, i)]
            if m not in back:
                back[m] = (n, i)
                queue.append(m)
    raise AssertionError("a fair component has a witness for every instance it owes")


def _path_within(graph: StateGraph, src: int, dst: int, allowed: set[int]) -> list[tuple[int, int]]:
    """Shortest path src -> dst inside ``allowed`` as (state, instance) steps (empty if src==dst)."""
    if src == dst:
        return []
    back: dict[int, tuple[int, int]] = {src: (-1, -1)}
    queue = deque([src])
    while queue:
        n = queue.popleft()
        for m, i in graph.edges(n):
            if m in allowed and m not in back:
                back[m] = (n, i)
                if m == dst:
                    return _walk_back(back, src, dst)
                queue.append(m)
    raise AssertionError("no path inside a strongly connected component")


def _walk_back(back: dict[int, tuple[int, int]], src: int, dst: int) -> list[tuple[int, int]]:
    """The (state, instance) steps from ``src`` to ``dst`` along a breadth-first ``back`` map."""
    path = []
    while dst != src:
        prev, inst = back[dst]
        path.append((dst, inst))
        dst = prev
    return path[::-1]


def _closest_start(graph, starts, bad, targets) -> tuple[int, list[int]]:
    """The premise state nearest the initial states from which a fair target is reachable
    through not-Q states, and that path (as state numbers)."""
    for start in sorted(starts, key=lambda n: (_depth(graph, n), n)):
        back = {start: -1}
        queue = deque([start])
        while queue:
            n = queue.popleft()
            if n in targets:
                path = [n]
                while back[path[-1]] != -1:
                    path.append(back[path[-1]])
                return start, path[::-1]
            for m in graph.successors(n):
                if bad[m] and m not in back:
                    back[m] = n
                    queue.append(m)
    raise AssertionError("a fair target was found but is unreachable")


def _depth(graph: StateGraph, n: int) -> int:
    d = 0
    while graph.parent[n] != -1:
        n, d = graph.parent[n], d + 1
    return d


def _lasso(graph: StateGraph, prop: Property, start: int, entry: list[int], cycle) -> Trace:
    model = graph.model
    prefix: list[tuple[int, int]] = []
    n = start
    while n != -1:
        prefix.append((n, graph.via[n]))
        n = graph.parent[n]
    prefix.reverse()
    for a, b in zip(entry, entry[1:], strict=False):
        inst = next(i for m, i in graph.edges(a) if m == b)
        prefix.append((b, inst))
    loop = len(prefix) - 1
    # The cycle ends back at its entry: drop that last state, since ``loop`` says where the last
    # state goes next. A stuttering end (no cycle) loops on the last state itself.
    tail = cycle[1:-1] if cycle else []
    steps = [_step(model, graph.states[s], i) for s, i in prefix + tail]
    options = dict(model.options)
    return Trace(model.schema, steps, loop, model.name, prop.name, options, model.source)


def _step(model: Model, state: State, instance: int) -> Step:
    if instance < 0:
        return Step(None, (), state)
    inst = model.instances[instance]
    return Step(inst.action, inst.params, state)


def check_liveness(
    model: Model,
    max_states: int | None = 2_000_000,
    progress: Progress | None = None,
    graph: StateGraph | None = None,
) -> list[PropertyResult]:
    """Every ``eventually`` property of ``model``, on one shared state graph: ``graph`` as the
    safety search recorded it (explored further only if that search stopped early), else a new
    exploration."""
    props = [p for p in model.properties if p.kind == EVENTUALLY]
    if not props:
        return []
    if progress is not None and (graph is None or graph.expanded < len(graph.states)):
        progress("building the state graph")
    graph = build_graph(model, max_states, progress, graph)
    verdicts = []
    for number, prop in enumerate(props, start=1):
        if progress is not None:
            progress(f"{prop.name} ({number} of {len(props)}, {len(graph.states):,} states)")
        verdicts.append(check_leads_to(graph, prop))
    return verdicts


def add_liveness(
    result: CheckResult,
    model: Model,
    max_states: int | None = 2_000_000,
    progress: Progress | None = None,
    graph: StateGraph | None = None,
) -> CheckResult:
    """Fill in the ``eventually`` verdicts of an explicit-engine ``CheckResult`` (in place),
    on ``graph`` if the search recorded one (see :func:`check_liveness`).

    Ctrl-C or lack of memory here keeps the finished safety search: the ``eventually``
    properties stay UNKNOWN and ``stopped``/``cut_phase`` say that liveness was cut. After a
    MemoryError the state graph is dropped, so that building the reports has memory again."""
    if not any(p.kind == EVENTUALLY for p in model.properties):
        return result
    if result.stopped not in ("exhausted", "all_violated"):
        return result  # a limit or Ctrl-C stopped the search: the graph would be cut short too
    try:
        verdicts = {r.name: r for r in check_liveness(model, max_states, progress, graph)}
    except KeyboardInterrupt:
        return _cut_short(result, INTERRUPTED)
    except MemoryError:
        if graph is not None:
            graph.clear()
        return _cut_short(result, OUT_OF_MEMORY)
    result.properties = [verdicts.get(r.name, r) for r in result.properties]
    if any(r.status == UNKNOWN for r in verdicts.values()):  # the graph reached max_states
        _cut_short(result, "max_states")
    return result


def _cut_short(result: CheckResult, stopped: str) -> CheckResult:
    result.stopped, result.complete, result.cut_phase = stopped, False, "liveness"
    return result


# --- explaining a lasso ---------------------------------------------------------------------------


def explain_lasso(model: Model, trace: Trace) -> list[str]:
    """Why a lasso violates its ``P ~> Q`` property, in words: where P holds, that Q never holds
    from there on, how the run goes on forever, and why that is a weakly fair run (each
    environment step enabled in the loop is taken in it or disabled in one of its states, the
    witnesses the engine builds the loop from; API calls are never fair: a user may stop)."""
    assert trace.loop is not None, "only a lasso loops"
    prop = next((p for p in model.properties if p.name == trace.property_name), None)
    states = [step.state for step in trace.steps]
    lines = []
    if isinstance(prop, LeadsTo):
        lines += _violated_case(model, prop, states, trace.loop)
    lines += _fairness_lines(model, trace)
    return lines


def _text(model: Model, expr) -> str:
    from mrkcheck.errors import clip
    from mrkcheck.lang.expr import show

    schema = model.schema
    return clip(show(expr, lambda var, v: schema.variable(var.name).domain.show(v)), 120)


def _violated_case(model: Model, prop: LeadsTo, states: list[State], loop: int) -> list[str]:
    from mrkcheck.lang.expr import evaluate

    for premise, goal in prop.leads_to_cases():
        for i, state in enumerate(states):
            starts = evaluate(premise, state) if premise is not None else i == 0
            if starts and not any(evaluate(goal, t) for t in states[min(i, loop) :]):
                start = "the run starts" if premise is None else "the premise holds"
                first = f"At step {i} {start}" + (
                    "." if premise is None else f": {_text(model, premise)}"
                )
                span = (min(i, loop), len(states) - 1)
                steps = f"steps {span[0]}-{span[1]}" if span[0] < span[1] else f"step {span[1]}"
                return [
                    first,
                    f"From there on the goal never holds (it is false in {steps}, and the run "
                    f"stays there forever): {_text(model, goal)}",
                ]
    return []


def _fairness_lines(model: Model, trace: Trace) -> list[str]:
    assert trace.loop is not None
    step = compile_model(model).step
    loop, last = trace.loop, len(trace.steps) - 1
    moves = []
    for s in trace.steps[loop:]:
        out: list[tuple[int, State]] = []
        step(s.state, out, [])
        moves.append(out)
    env = [k for k, inst in enumerate(model.instances) if inst.environment]
    enabled = [{i for i, _ in out} for out in moves]
    if loop == last:
        on = [model.instances[k].label for k in env if k in enabled[0]]
        if on:  # not a fair end: say so rather than explain it away
            return [f"Step {last} repeats forever, but {on[0]} is enabled there: NOT a fair run."]
        return [
            f"Then step {last} repeats forever (stuttering): no environment step is enabled in "
            "it, and API calls are never forced (a user may stop calling), so this is a fair run."
        ]
    labels: dict[tuple[str | None, tuple], int] = {
        (i.action, i.params): k for k, i in enumerate(model.instances)
    }
    taken = {labels[(s.action, s.params)]: n for n, s in enumerate(trace.steps) if n > loop}
    closing = [i for i, t in moves[-1] if t == trace.steps[loop].state]
    if closing:
        taken.setdefault(closing[0], last + 1)
    witnesses, fair = [], True
    for k in env:
        if not any(k in e for e in enabled):
            continue
        label = model.instances[k].label
        off = next((loop + n for n, e in enumerate(enabled) if k not in e), None)
        if k in taken:
            where = f"back to step {loop}" if taken[k] > last else f"at step {taken[k]}"
            witnesses.append(f"  {label}: taken {where}")
        elif off is not None:
            witnesses.append(f"  {label}: disabled at step {off}")
        else:
            witnesses.append(f"  {label}: enabled throughout and never taken")
            fair = False
    verdict = (
        "It is a weakly fair run: every environment step enabled in the loop is taken in it or "
        "disabled in one of its states"
        if fair
        else "It is NOT a weakly fair run: an environment step is enabled throughout and never taken"
    )
    head = f"Then steps {loop}-{last} repeat forever (after step {last}, back to step {loop})."
    lines = [f"{head} {verdict}" + (":" if witnesses else ".")] + witnesses
    lines.append("API calls are not fair (a user may stop calling); none is owed.")
    return lines
