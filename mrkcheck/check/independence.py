"""Independence: check one of a model's non-interacting parts and conclude for all of them.

Two key sets of the KMS model never interact: no action reads one and writes another. Searched
together, their state space is the product of theirs (N^K states for K sets of N), which is out of
reach long before one set is. This module finds such a split from the built model's expressions,
not from a declaration, and knows nothing of KMS:

1. The slots each action instance reads or writes are joined into groups (connected components
   of the read/write relation). Slots no instance touches never change: they are constants.
2. A universe must index the groups: every slot of group *j* is a variable over that universe at
   its element *j*, one group per element (the key sets).
3. Every group is the image of the first one under the swap of their two elements: its action
   instances, initial values and terminal condition, compared in the symmetry check's normal form.
4. Every property splits into parts that each mention one group: the conjuncts of an invariant
   (and of the terminal condition), the per-instance conditions of an action property (a step of
   one group leaves the others unchanged, so ``x' = x`` of another group is true), each case of
   a ``~>`` property, the disjuncts (or one conjunction) of a reachability goal. Each part,
   renamed into the first group, is checked there.

Then the reachable states are exactly the products of reachable states of the groups (the initial
states must be a product too), so one search of the first group, with the others idle at their
initial values, decides every property:

- an invariant holds iff each of its parts holds in its group; a violation found in the first
  group is a run of the whole model (the other groups idle), moved to the group the part is about;
- an action property likewise, transition by transition;
- ``P ~> Q`` within one group under weak fairness: the projection of a fair run of the whole model
  on one group is a fair run of the group, or ends where no environment step of the group is
  enabled (stuttering there is fair), and every fair run of the group extends to a fair run of the
  whole; so the verdict is the group's. A lasso of the group, with the others idle, is fair for
  the whole model only if the others' initial states enable no environment step: that is checked,
  and otherwise independence is not used;
- deadlock: a state of the whole model has no successor iff each group's part has none, and it is
  not terminal iff some group's part is not terminal (the terminal condition must split into one
  conjunct per group). So the model deadlocks iff the first group has a non-terminal dead state;
  the shortest such deadlock is that state in one group and the shallowest dead state in each
  other group, found by a second search of the first group without its terminal condition.

Counts are derived, exactly: N^K distinct states, I^K + K·N^(K-1)·(G - I) generated (I initial,
G generated in the group), depth K·(D - 1) + 1, per-level counts by convolution. With symmetry
reduction they count the classes of the product of the groups' quotients: states equal up to a
permutation within each group, which is what the group search counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mrkcheck.check.result import VIOLATED, CheckResult, PropertyResult, Stats, Step, Trace
from mrkcheck.check.symmetry import _Normaliser, slot_image
from mrkcheck.lang.expr import (
    FALSE,
    TRUE,
    And,
    Compare,
    Const,
    Expr,
    Or,
    Transform,
    Var,
    and_,
    compare,
    evaluate,
    fold,
    or_,
    same,
    variables_of,
)
from mrkcheck.lang.model import (
    ActionInstance,
    ActionProperty,
    LeadsTo,
    Model,
    Property,
    Reachability,
    State,
    Universe,
    state_property,
)

Run = Callable[[Model], CheckResult]


class _NotIndependent(Exception):
    """Why the model does not split (the message is printed as the reason)."""


@dataclass
class Split:
    """A model split into ``size`` isomorphic groups indexed by ``universe``; ``component`` is the
    model of the first group (the others idle), whose search decides the whole model."""

    model: Model
    universe: Universe
    component: Model
    groups: list[list[int]]  # slots of each group, in the universe's order
    images: list[list[int]]  # slot permutation swapping group 0 and group j
    counterpart: list[dict[str, ActionInstance]]  # group j: first group's label -> j's instance
    parts: list[list[tuple[int, Any]]] = field(default_factory=list)  # per property: (group, part)

    @property
    def size(self) -> int:
        return len(self.groups)

    def conclude(self, run: Run) -> CheckResult:
        """Check the first group with ``run`` and state the result for the whole model."""
        sub = run(self.component)
        result = replace(
            sub,
            properties=[self._lift(p, r) for p, r in enumerate(sub.properties)],
            never_enabled=self._never_enabled(sub.never_enabled),
            deadlock=self._deadlock(sub, run),
        )
        complete = sub.complete  # a search stopped early counts only what it saw
        result.stats = (
            derive(sub.stats, self.size, len(self.component.initial)) if complete else sub.stats
        )
        result.independence = self._summary(sub.stats, complete, bool(sub.options.get("symmetry")))
        return result

    # --- lifting results ---------------------------------------------------------------------

    def _lift(self, position: int, r: PropertyResult) -> PropertyResult:
        """The verdict on the model's own property; a trace moved to the group it is about."""
        original = self.model.properties[position]
        if r.trace is None:
            return replace(r, checked=original)
        return replace(r, trace=self.move(r.trace, self._group_of(position, r)), checked=original)

    def _group_of(self, position: int, r: PropertyResult) -> int:
        """The group whose part the trace violates (or, for a goal, reaches) at its end."""
        parts = self.parts[position]
        if isinstance(r.checked, LeadsTo):  # cases of one element only, or the same for all
            return parts[0][0] if len({j for j, _ in parts}) == 1 else 0
        steps = r.trace.steps if r.trace is not None else []
        if not steps:
            return 0
        last, before = steps[-1], steps[-2] if len(steps) > 1 else None
        wanted = 0 if r.status == VIOLATED and r.checked.kind != "sometimes" else 1
        for group, part in parts:
            if isinstance(part, dict):  # an action property: per first-group instance label
                expr = part.get(last.label)
                if expr is None or before is None:
                    continue
                value = evaluate(expr, before.state, last.state)
            else:
                value = evaluate(part, last.state)
            if value == wanted:
                return group
        return 0

    def move(self, trace: Trace, group: int) -> Trace:
        """A run of the first group as the same run of ``group`` (the others idle)."""
        if group == 0:
            return trace
        steps = [self._moved_step(s, group) for s in trace.steps]
        return replace(trace, steps=steps, schema=self.model.schema)

    def _moved_step(self, step: Step, group: int) -> Step:
        image = self.images[group]
        moved = [0] * len(step.state)
        for slot, value in enumerate(step.state):
            moved[image[slot]] = value
        if step.action is None:
            return Step(None, (), tuple(moved))
        inst = self.counterpart[group][step.label]
        return Step(inst.action, inst.params, tuple(moved))

    def _never_enabled(self, labels: list[str] | None) -> list[str] | None:
        if labels is None:
            return None
        idle = {m[label].label for label in labels for m in self.counterpart}
        return [i.label for i in self.model.instances if i.label in idle]

    def _deadlock(self, sub: CheckResult, run: Run) -> Trace | None:
        """The first group's non-terminal dead state in one group, the shallowest dead state of
        the first group (terminal or not) in every other group: the shortest deadlock."""
        if sub.deadlock is None:
            return None
        if self.size == 1:
            return sub.deadlock
        anyway = run(replace(self.component, terminal=None, properties=()))
        assert anyway.deadlock is not None  # the non-terminal dead state is one
        runs = [sub.deadlock] + [self.move(anyway.deadlock, j) for j in range(1, self.size)]
        return self._concatenate(runs)

    def _concatenate(self, runs: Sequence[Trace]) -> Trace:
        """One run of the whole model doing the runs of the groups one after the other."""
        current = list(runs[0].steps[-1].state)
        steps = list(runs[0].steps)
        for group, trace in enumerate(runs[1:], start=1):
            for step in trace.steps[1:]:
                for slot in self.groups[group]:
                    current[slot] = step.state[slot]
                steps.append(Step(step.action, step.params, tuple(current)))
        return replace(runs[0], steps=steps)

    def _summary(self, stats: Stats, complete: bool, symmetric: bool) -> dict[str, Any]:
        u, k, n = self.universe, self.size, stats.distinct
        name = u.name
        reason = (
            f"the {name} elements are independent: each action instance reads and writes the slots "
            f"of one {name} element, and each property part mentions one; checked "
            f"{u.elements[0]} ({n:,} states) and concluded for {k}"
        )
        if complete and symmetric:
            reason += (
                f" ({n:,}^{k} = {n**k:,} classes of states equal up to a permutation within "
                f"each {name} element, derived)"
            )
        elif complete:
            reason += f" ({n:,}^{k} = {n**k:,} states, derived)"
        else:
            reason += " (the search stopped early: the counts are the first element's)"
        return {
            "applied": True,
            "universe": name,
            "elements": k,
            "checked": u.elements[0],
            "component": {"distinct": n, "generated": stats.generated, "depth": stats.depth},
            "derived": complete,
            "reason": reason,
        }


# --- derived counts -------------------------------------------------------------------------------


def derive(stats: Stats, k: int, initial: int) -> Stats:
    """The counts of the product of ``k`` copies of a searched group (see the module's doc)."""
    n, g = stats.distinct, stats.generated
    per_edge = k * n ** (k - 1)
    levels = [1]
    for _ in range(k):
        levels = _convolve(levels, stats.levels)
    return Stats(
        distinct=n**k,
        generated=initial**k + per_edge * (g - initial),
        depth=k * (stats.depth - 1) + 1 if stats.depth else 0,
        seconds=stats.seconds,
        fired={a: per_edge * f for a, f in stats.fired.items()},
        levels=levels,
    )


def _convolve(a: list[int], b: list[int]) -> list[int]:
    out = [0] * (len(a) + len(b) - 1) if a and b else []
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


# --- finding the split ----------------------------------------------------------------------------


def split(model: Model, deadlock: bool = True) -> Split | str | None:
    """The model's split into independent groups, or why there is none (a reason when the model
    has several groups but a property or the terminal condition ties them), or None when the
    model has one group only."""
    groups = _groups(model)
    if len(groups) < 2:
        return None
    try:
        return _Splitter(model, groups).split(deadlock)
    except _NotIndependent as exc:
        return str(exc)


def _slots(expr: Expr | None) -> set[int]:
    return set() if expr is None else {v.slot for v in variables_of(expr)}


def _touched(inst: ActionInstance) -> set[int]:
    found = set()
    for guard in inst.guards:
        found |= _slots(guard.condition)
    for target, value in inst.effects:
        found.add(target.slot)
        found |= _slots(value)
    return found


def _groups(model: Model) -> list[list[int]]:
    """Connected components of the slots the action instances touch together (union-find)."""
    root = list(range(model.schema.width))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    touched: set[int] = set()
    for inst in model.instances:
        slots = sorted(_touched(inst))
        touched.update(slots)
        for a, b in zip(slots, slots[1:], strict=False):
            root[find(a)] = find(b)
    by_root: dict[int, list[int]] = {}
    for slot in sorted(touched):
        by_root.setdefault(find(slot), []).append(slot)
    return sorted(by_root.values())


class _Splitter:
    """Checks the conditions of the module's doc, step by step, and builds the :class:`Split`."""

    def __init__(self, model: Model, groups: list[list[int]]):
        self.model = model
        width = model.schema.width
        touched = {s for g in groups for s in g}
        first = model.initial[0]
        if any(s[i] != first[i] for s in model.initial for i in range(width) if i not in touched):
            raise _NotIndependent("initial states differ in a slot no action changes")
        self.constants = {i: first[i] for i in range(width) if i not in touched}
        self.universe, self.groups = self._indexing_universe(groups)
        self.group_of = {s: j for j, g in enumerate(self.groups) for s in g}
        self.images = [self._swap(j) for j in range(len(self.groups))]

    def split(self, deadlock: bool) -> Split:
        counterpart = self._counterparts()
        self._initial_product()
        parts, properties = [], []
        for prop in self.model.properties:
            reduced, prop_parts = self._property(prop, counterpart)
            properties.append(reduced)
            parts.append(prop_parts)
        terminal = self._terminal() if deadlock else None
        first = set(self.groups[0])
        instances = tuple(i for i in self.model.instances if _touched(i) & first or not _touched(i))
        self._fair_when_idle(instances)
        universes = tuple(
            replace(u, symmetric=False) if u.name == self.universe.name else u
            for u in self.model.universes
        )
        initial = tuple(
            s
            for s in self.model.initial
            if all(s[i] == self.model.initial[0][i] for i in range(len(s)) if i not in first)
        )
        component = replace(
            self.model,
            universes=universes,
            instances=instances,
            properties=tuple(properties),
            terminal=terminal,
            initial=initial,
        )
        return Split(
            self.model, self.universe, component, self.groups, self.images, counterpart, parts
        )

    # --- the universe and the isomorphisms ---------------------------------------------------

    def _indexing_universe(self, groups: list[list[int]]) -> tuple[Universe, list[list[int]]]:
        """The universe whose elements index the groups, and the groups in its order."""
        where = {slot: (var, idx) for var, idx, slot in self.model.schema.slots()}
        for u in self.model.universes:
            element_of: dict[int, str] = {}
            for j, group in enumerate(groups):
                elements: set[str | None] = set()
                for slot in group:
                    var, idx = where[slot]
                    positions = [p for p, w in enumerate(var.over) if w.name == u.name]
                    elements |= {idx[p] for p in positions} if len(positions) == 1 else {None}
                element = elements.pop() if len(elements) == 1 else None
                if element is not None:
                    element_of[j] = element
            if len(element_of) == len(groups) == len(u) and len(set(element_of.values())) == len(u):
                order = {e: p for p, e in enumerate(u.elements)}
                ordered = sorted(range(len(groups)), key=lambda j: order[element_of[j]])
                return u, [groups[j] for j in ordered]
        raise _NotIndependent(
            "the model's independent groups of slots are not the elements of one universe"
        )

    def _swap(self, j: int) -> list[int]:
        perm = list(range(len(self.universe)))
        perm[0], perm[j] = j, 0
        return slot_image(self.model, {self.universe.name: tuple(perm)})

    def _counterparts(self) -> list[dict[str, ActionInstance]]:
        """Group j's instance for each instance of the first group; every instance of group j
        must be the image of one of the first group's, and the other way round."""
        identity = _Normaliser(range(self.model.schema.width))
        by_group: list[list[ActionInstance]] = [[] for _ in self.groups]
        for inst in self.model.instances:
            slots = _touched(inst)
            if not slots:
                raise _NotIndependent(f"{inst.label} reads and writes no state")
            by_group[self.group_of[min(slots)]].append(inst)
        # paired by parameters (the element swapped), then checked by normal form: two instances
        # of one group may share a normal form (both refused by construction, say)
        first = {(i.action, i.params): i for i in by_group[0]}
        names = self.universe.elements
        maps = []
        for j, members in enumerate(by_group):
            moved = _Normaliser(self.images[j])
            swap = {names[0]: names[j], names[j]: names[0]}
            mapping = {}
            for inst in members:
                image = first.get((inst.action, tuple((n, swap.get(v, v)) for n, v in inst.params)))
                if image is None or identity.instance(image) != moved.instance(inst):
                    raise _NotIndependent(
                        f"{inst.label} has no counterpart in {self.universe.elements[0]}"
                    )
                mapping[image.label] = inst
            if len(mapping) != len(first):
                raise _NotIndependent(
                    f"{self.universe.name} {self.universe.elements[j]} has other actions than "
                    f"{self.universe.elements[0]}"
                )
            maps.append(mapping)
        return maps

    def _initial_product(self) -> None:
        states = set(self.model.initial)
        for j, image in enumerate(self.images):
            for s in states:
                if _permuted(s, image) not in states:
                    raise _NotIndependent(
                        f"the initial states of {self.universe.elements[j]} differ from the first's"
                    )
        projections = [{tuple(s[i] for i in g) for s in states} for g in self.groups]
        size = 1
        for p in projections:
            size *= len(p)
        if size != len(states):
            raise _NotIndependent("the initial states are not a product of the groups' states")

    def _fair_when_idle(self, instances: Sequence[ActionInstance]) -> None:
        """A lasso of the first group, the others idle, is fair only if idling is: no environment
        step may be enabled in an initial state (checked when there is liveness to decide)."""
        if not any(isinstance(p, LeadsTo) for p in self.model.properties):
            return
        for inst in instances:
            if inst.environment and any(evaluate(inst.enabled, s) for s in self.model.initial):
                raise _NotIndependent(
                    f"the environment step {inst.label} is enabled initially, so an idle "
                    f"{self.universe.name} element would not be a fair run"
                )

    # --- properties ---------------------------------------------------------------------------

    def _rename(self, expr: Expr, group: int, unchanged: set[int] | None = None) -> Expr:
        return fold(expr, _Rewrite(self.constants, self.images[group], unchanged, self.model))

    def _group(self, expr: Expr, what: str) -> int | None:
        found = {self.group_of[s] for s in _slots(expr)}
        if len(found) > 1:
            raise _NotIndependent(f"{what} mentions several {self.universe.name} elements")
        return found.pop() if found else None

    def _split_conjuncts(self, expr: Expr, what: str) -> dict[int, list[Expr]]:
        """The conjuncts of ``expr`` (constants substituted) by group, renamed into the first."""
        expr = self._rename(expr, 0)
        by_group: dict[int, list[Expr]] = {}
        for conjunct in expr.args if isinstance(expr, And) else (expr,):
            j = self._group(conjunct, what) or 0
            by_group.setdefault(j, []).append(self._rename(conjunct, j))
        return by_group

    def _property(
        self, prop: Property, counterpart: list[dict[str, ActionInstance]]
    ) -> tuple[Property, list[tuple[int, Any]]]:
        what = f"property {prop.name}"
        if isinstance(prop, ActionProperty):
            return self._action_property(prop, counterpart)
        if isinstance(prop, LeadsTo):
            return self._leads_to(prop)
        expr = state_property(prop).expr
        if isinstance(prop, Reachability):
            expr = self._rename(expr, 0)
            options = expr.args if isinstance(expr, Or) else (expr,)
            parts = []
            for option in options:
                j = self._group(option, what) or 0
                parts.append((j, self._rename(option, j)))
            reduced_expr = or_(*_distinct([p for _, p in parts]))
        else:
            by_group = self._split_conjuncts(expr, what)
            parts = [(j, and_(*c)) for j, c in sorted(by_group.items())]
            reduced_expr = and_(*_distinct([c for _, cs in sorted(by_group.items()) for c in cs]))
        return replace(state_property(prop), expr=reduced_expr, template=None), parts

    def _action_property(
        self, prop: ActionProperty, counterpart: list[dict[str, ActionInstance]]
    ) -> tuple[Property, list[tuple[int, Any]]]:
        per_label: dict[str, list[Expr]] = {}
        parts: list[tuple[int, Any]] = []
        for j, mapping in enumerate(counterpart):
            part: dict[str, Expr] = {}
            for label, inst in mapping.items():
                expr = prop.for_action(inst)
                if expr is None:
                    continue
                written = {t.slot for t, _ in inst.effects}
                unchanged = set(range(self.model.schema.width)) - written
                simplified = fold(expr, _Rewrite(self.constants, None, unchanged, self.model))
                if self._group(simplified, f"property {prop.name} at {inst.label}") not in (
                    j,
                    None,
                ):
                    raise _NotIndependent(
                        f"property {prop.name} at {inst.label} mentions another "
                        f"{self.universe.name} element"
                    )
                part[label] = self._rename(simplified, j)
                per_label.setdefault(label, []).append(part[label])
            parts.append((j, part))
        table = {label: and_(*_distinct(exprs)) for label, exprs in per_label.items()}
        return replace(prop, step=_StepTable(table)), parts

    def _leads_to(self, prop: LeadsTo) -> tuple[Property, list[tuple[int, Any]]]:
        cases, parts = [], []
        for premise, goal in prop.cases:
            j = self._group(and_(premise if premise is not None else TRUE, goal), prop.name)
            j = j or 0
            case = (None if premise is None else self._rename(premise, j), self._rename(goal, j))
            cases.append(case)
            parts.append((j, case))
        distinct = _distinct_cases(cases)
        if len({j for j, _ in parts}) > 1 and len(distinct) * len(self.groups) != len(cases):
            raise _NotIndependent(f"property {prop.name} is not the same for every element")
        return replace(prop, cases=tuple(distinct), templates=None), parts

    def _terminal(self) -> Expr | None:
        if self.model.terminal is None:
            return None
        by_group = self._split_conjuncts(self.model.terminal, "the terminal condition")
        if len(by_group) != len(self.groups):
            raise _NotIndependent("the terminal condition is not one conjunct per element")
        terms = {_term(and_(*c)) for c in by_group.values()}
        if len(terms) != 1:
            raise _NotIndependent("the terminal condition differs between elements")
        return and_(*by_group[0])


@dataclass(frozen=True)
class _StepTable:
    """An action property's condition per instance label (of the first group)."""

    table: dict[str, Expr]

    def __call__(self, inst: ActionInstance) -> Expr | None:
        return self.table.get(inst.label)


class _Rewrite(Transform):
    """Constants for the slots no action changes; unprimed reads for the slots a step leaves
    unchanged (so ``x' = x`` folds to true); slots moved by ``image`` (into the first group)."""

    def __init__(
        self,
        constants: dict[int, int],
        image: list[int] | None,
        unchanged: set[int] | None,
        model: Model,
    ):
        self.constants, self.image, self.unchanged = constants, image, unchanged or set()
        self.where = {slot: (var, idx) for var, idx, slot in model.schema.slots()}

    def var(self, e: Var) -> Expr:
        if e.slot in self.constants:
            return Const(self.constants[e.slot], e.sort)
        primed = e.primed and e.slot not in self.unchanged
        slot = e.slot if self.image is None else self.image[e.slot]
        var, idx = self.where[slot]
        return Var(slot, var.name, idx, e.sort, primed)

    def compare(self, e: Compare, left: Expr, right: Expr) -> Expr:
        if same(left, right):
            return TRUE if e.op in ("==", "<=") else FALSE
        return compare(e.op, left, right)


def _permuted(state: State, image: list[int]) -> State:
    moved = [0] * len(state)
    for slot, value in enumerate(state):
        moved[image[slot]] = value
    return tuple(moved)


def _term(expr: Expr) -> Any:
    """The symmetry check's normal form of ``expr``, slots unmoved."""
    return _Normaliser(range(1 << 40)).term(expr)


def _distinct(exprs: Sequence[Expr]) -> list[Expr]:
    seen, out = set(), []
    for e in exprs:
        t = _term(e)
        if t not in seen:
            seen.add(t)
            out.append(e)
    return out


def _distinct_cases(cases: Sequence[tuple[Expr | None, Expr]]) -> list[tuple[Expr | None, Expr]]:
    seen, out = set(), []
    for p, q in cases:
        t = (None if p is None else _term(p), _term(q))
        if t not in seen:
            seen.add(t)
            out.append((p, q))
    return out
