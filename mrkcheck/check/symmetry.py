"""Exact symmetry reduction: map every state to one canonical member of its orbit.

Elements of a universe declared ``symmetric`` (and of the same class) are interchangeable, so the
states reachable from a state and from any permutation of it are permutations of each other. The
engine stores only one representative per orbit. The representative must be *exact* (two states get
the same representative iff they are permutations of each other), otherwise counts depend on the
search order. Two canonicalisers are exact:

- column sorting, when one universe is symmetric and no variable is indexed by it twice: each
  element owns a column of slots, and sorting the columns within a class is a canonical form;
- otherwise the lexicographic minimum over every permutation of the group (slower, general).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from mrkcheck.lang.expr import BOOL, And, Arith, Compare, Const, Expr, Fold, Ite, Not, Or, Var, fold
from mrkcheck.lang.model import (
    ACTION,
    ALWAYS,
    SOMETIMES,
    ActionInstance,
    Model,
    ModelError,
    State,
    Universe,
    state_property,
)

if TYPE_CHECKING:
    from mrkcheck.check.z3_translate import Translator


def _class_permutations(universe: Universe) -> list[tuple[int, ...]]:
    """Every permutation of ``universe`` that maps each element to one of its own class."""
    positions = range(len(universe))
    groups: dict[str, list[int]] = {}
    for p in positions:
        groups.setdefault(universe.classes[p] if universe.classes else "", []).append(p)
    per_class = [list(itertools.permutations(members)) for members in groups.values()]
    perms = []
    for choice in itertools.product(*per_class):
        image = list(positions)
        for members, permuted in zip(groups.values(), choice, strict=True):
            for src, dst in zip(members, permuted, strict=True):
                image[src] = dst
        perms.append(tuple(image))
    return perms


def symmetric_universes(model: Model) -> list[Universe]:
    return [u for u in model.universes if u.symmetric and len(u) > 1]


def canonicalizer(model: Model) -> Callable[[State], State] | None:
    """A function to the canonical representative, or None if the model has no symmetry.

    The declaration is checked first (:func:`require_symmetry`): counting one state per orbit is
    sound only if the model really is invariant, and every engine entry goes through here."""
    universes = symmetric_universes(model)
    if not universes:
        return None
    require_symmetry(model)
    if len(universes) == 1 and _columns_are_disjoint(model, universes[0]):
        return _column_sorter(model, universes[0])
    return _orbit_minimum(model, universes)


def _columns_are_disjoint(model: Model, universe: Universe) -> bool:
    return all(sum(u is universe for u in v.over) <= 1 for v in model.schema.variables)


def element_columns(model: Model, universe: Universe) -> tuple[list[list[int]], list[list[int]]]:
    """Each element's column of slots (in slot order), and the classes of elements (positions)
    with more than one member: what column sorting permutes (here and on packed keys)."""
    columns: list[list[int]] = [[] for _ in universe.elements]
    for var, idx, slot in model.schema.slots():
        for u, element in zip(var.over, idx, strict=True):
            if u is universe:
                columns[universe.position(element)].append(slot)
    classes: dict[str, list[int]] = {}
    for p in range(len(universe)):
        classes.setdefault(universe.class_of(universe.elements[p]), []).append(p)
    return columns, [members for members in classes.values() if len(members) > 1]


def _column_sorter(model: Model, universe: Universe) -> Callable[[State], State]:
    """Sort the per-element columns of slots within each class of the universe."""
    columns, groups = element_columns(model, universe)
    getters = [
        itemgetter(*columns[p]) if len(columns[p]) > 1 else None for p in range(len(universe))
    ]
    width = model.schema.width

    def column(state: State, p: int) -> tuple[int, ...]:
        g = getters[p]
        return g(state) if g is not None else (state[columns[p][0]],)

    def canon(state: State) -> State:
        out = list(state)
        for members in groups:
            ordered = sorted(column(state, p) for p in members)
            for p, values in zip(members, ordered, strict=True):
                for slot, value in zip(columns[p], values, strict=True):
                    out[slot] = value
        return tuple(out) if len(out) == width else state

    return canon


def _orbit_minimum(model: Model, universes: list[Universe]) -> Callable[[State], State]:
    """The lexicographically least permutation of the state over the whole symmetry group."""
    per_universe = [_class_permutations(u) for u in universes]
    getters = []
    for combo in itertools.product(*per_universe):
        image = slot_image(model, {u.name: perm for u, perm in zip(universes, combo, strict=True)})
        source = [0] * model.schema.width
        for slot, moved in enumerate(image):
            source[moved] = slot
        if source != list(range(len(source))):
            getters.append(itemgetter(*source))

    def canon(state: State) -> State:
        best = state
        for g in getters:
            candidate = g(state)
            if candidate < best:
                best = candidate
        return best

    return canon


def slot_image(model: Model, moves: dict[str, tuple[int, ...]]) -> list[int]:
    """Where each slot goes when element ``p`` of universe ``u`` becomes element ``moves[u][p]``
    (universes not named stay put): a permutation of elements acts on states by moving slots."""
    image = [0] * model.schema.width
    for var, idx, slot in model.schema.slots():
        moved = tuple(
            u.elements[moves[u.name][u.position(e)]] if u.name in moves else e
            for u, e in zip(var.over, idx, strict=True)
        )
        image[slot] = var.slot(moved)
    return image


# --- checking the declaration ---------------------------------------------------------------------
#
# The reduction is sound only if every permutation of the group maps the initial states, the
# transition relation, the terminal condition and each checked property to themselves. It suffices
# to check generators: the swaps of neighbouring elements within each class generate the group the
# canonicalisers use. Each ground expression is compared in a normal form (slots renamed, and/or
# and + operands sorted) and, when the normal forms differ, by Z3: an expression can be symmetric
# without being a syntactic permutation of another (a minimum written as a chain of if-then-else).


class SymmetryRefused(ModelError):
    """The declared symmetry does not hold, so --symmetry would give wrong results (exit 150)."""


@dataclass(frozen=True)
class Swap:
    """One generator of the symmetry group: two neighbouring elements of a class exchanged."""

    universe: Universe
    first: str
    second: str
    slots: tuple[int, ...]  # slot -> the slot it moves to

    def state(self, state: State) -> State:
        moved = [0] * len(state)
        for slot, value in enumerate(state):
            moved[self.slots[slot]] = value
        return tuple(moved)

    def __str__(self) -> str:
        return f"{self.first}<->{self.second}"


def generators(model: Model) -> list[Swap]:
    """The swaps of neighbouring elements of each class of each symmetric universe."""
    swaps = []
    for universe in symmetric_universes(model):
        classes: dict[str, list[int]] = {}
        for p, element in enumerate(universe.elements):
            classes.setdefault(universe.class_of(element), []).append(p)
        for members in classes.values():
            for a, b in itertools.pairwise(members):
                perm = list(range(len(universe)))
                perm[a], perm[b] = b, a
                slots = tuple(slot_image(model, {universe.name: tuple(perm)}))
                swaps.append(Swap(universe, universe.elements[a], universe.elements[b], slots))
    return swaps


def require_symmetry(model: Model) -> None:
    """Raise :class:`SymmetryRefused`, naming the first asymmetric part, unless every generator
    maps the model to itself."""
    checker = _SymmetryChecker(model)
    for swap in generators(model):
        problem = checker.asymmetry(swap)
        if problem is not None:
            raise SymmetryRefused(
                f"--symmetry refused: {problem} under the swap {swap} (the model singles out "
                f"one {swap.universe.name}); run without --symmetry"
            )


Term = tuple[Any, ...]


class _Normaliser(Fold[Term]):
    """Expressions as hashable terms with slots renamed by ``slots`` and commutative operands
    sorted, memoised per node (the instances of a model share their quantifier expansions)."""

    def __init__(self, slots: Sequence[int]):
        self.slots = slots
        self._memo: dict[int, tuple[Expr, Term]] = {}

    def term(self, expr: Expr) -> Term:
        return fold(expr, self, self._memo)

    def const(self, e: Const) -> Term:
        return ("const", e.value)

    def var(self, e: Var) -> Term:
        return ("var", self.slots[e.slot], e.primed)

    def not_(self, e: Not, arg: Term) -> Term:
        return ("not", arg)

    def and_(self, e: And, args: list[Term]) -> Term:
        return ("And", tuple(sorted(set(args))))

    def or_(self, e: Or, args: list[Term]) -> Term:
        return ("Or", tuple(sorted(set(args))))

    def ite(self, e: Ite, cond: Term, then: Term, other: Term) -> Term:
        return ("ite", cond, then, other)

    def compare(self, e: Compare, left: Term, right: Term) -> Term:
        pair = (left, right)
        return ("cmp", e.op, *(sorted(pair) if e.op in ("==", "!=") else pair))

    def arith(self, e: Arith, left: Term, right: Term) -> Term:
        if e.op == "+":  # a chain of + (a count) is one sum of its terms, in any order
            return ("+", tuple(sorted(_summands(left) + _summands(right))))
        return ("-", left, right)

    def unsupported(self, e: Expr) -> Term:
        # Unknown to the normal form (an unresolved Enabled...): never equal here, left to Z3.
        return ("opaque", repr(e), id(self))

    def instance(self, inst: ActionInstance) -> Term:
        effects = sorted((self.slots[t.slot], self.term(v)) for t, v in inst.effects)
        return (inst.action, self.term(inst.enabled), tuple(effects))


def _summands(term: Term) -> list[Term]:
    """The terms of a normalised sum, or the term itself."""
    return list(term[1]) if term[0] == "+" else [term]


class _SymmetryChecker:
    """Checks one model against each generator; the identity's normal forms are computed once."""

    def __init__(self, model: Model):
        self.model = model
        self.plain = _Normaliser(range(model.schema.width))
        self.index: dict[Term, list[int]] = {}
        for j, inst in enumerate(model.instances):
            self.index.setdefault(self.plain.instance(inst), []).append(j)
        self.action_exprs: dict[tuple[int, int], Expr | None] = {}
        self._z3: _Z3Equivalence | None = None

    @property
    def semantic(self) -> _Z3Equivalence:
        if self._z3 is None:
            self._z3 = _Z3Equivalence(self.model)
        return self._z3

    def asymmetry(self, swap: Swap) -> str | None:
        """What the swap does not map to itself, or None."""
        moved = _Normaliser(swap.slots)
        if {swap.state(s) for s in self.model.initial} != set(self.model.initial):
            return "the initial states are not mapped to themselves"
        terminal = self.model.terminal
        if terminal is not None and not self._same(terminal, terminal, swap, moved):
            return "the terminal condition is not mapped to itself"
        images: list[list[int]] = []
        for inst in self.model.instances:
            found = self._images(inst, swap, moved)
            if not found:
                return f"action {inst.label} has no image"
            images.append(found)
        return self._property_asymmetry(swap, moved, images)

    def _images(self, inst: ActionInstance, swap: Swap, moved: _Normaliser) -> list[int]:
        """The instances that ``inst`` becomes under the swap (by Z3: the first one found)."""
        found = self.index.get(moved.instance(inst))
        if found:
            return found
        instances = self.model.instances
        for j in self._candidates(inst, swap):
            if self.semantic.same_instance(inst, instances[j], swap):
                return [j]
        return []

    def _candidates(self, inst: ActionInstance, swap: Swap) -> list[int]:
        """Instances of the same action, the one with swapped parameters first."""
        rename = {swap.first: swap.second, swap.second: swap.first}
        params = tuple((name, rename.get(value, value)) for name, value in inst.params)
        same = [j for j, other in enumerate(self.model.instances) if other.action == inst.action]
        return sorted(same, key=lambda j: self.model.instances[j].params != params)

    def _property_asymmetry(
        self, swap: Swap, moved: _Normaliser, images: list[list[int]]
    ) -> str | None:
        for position, prop in enumerate(self.model.properties):
            if prop.kind in (ALWAYS, SOMETIMES):
                expr = state_property(prop).expr
                if not self._same(expr, expr, swap, moved):
                    return f"property {prop.name} is not mapped to itself"
            elif prop.kind == ACTION:
                for i, inst in enumerate(self.model.instances):
                    if not any(
                        self._same_action_property(position, i, j, swap, moved) for j in images[i]
                    ):
                        return (
                            f"property {prop.name} on action {inst.label} is not mapped to itself"
                        )
        return None  # 'eventually' properties are not checked under symmetry (liveness)

    def _same_action_property(
        self, position: int, i: int, j: int, swap: Swap, moved: _Normaliser
    ) -> bool:
        before, after = self._action_expr(position, i), self._action_expr(position, j)
        if before is None or after is None:
            return before is after
        return self._same(before, after, swap, moved)

    def _action_expr(self, position: int, i: int) -> Expr | None:
        key = (position, i)
        if key not in self.action_exprs:
            prop = self.model.properties[position]
            self.action_exprs[key] = prop.for_action(self.model.instances[i])
        return self.action_exprs[key]

    def _same(self, before: Expr, after: Expr, swap: Swap, moved: _Normaliser) -> bool:
        """``before`` with its slots swapped means ``after``."""
        if moved.term(before) == self.plain.term(after):
            return True
        return self.semantic.same_condition(before, after, swap)


class _Z3Equivalence:
    """Semantic comparison, for the expressions whose normal forms differ: valid over every pair
    of states within the variables' domains. Z3 is imported only when needed (the explicit engine
    does not otherwise load it)."""

    def __init__(self, model: Model):
        import z3

        from mrkcheck.check.z3_translate import Encoding, Translator

        self.z3 = z3
        encoding = Encoding(model)
        self.pre, self.post = encoding.state("pre"), encoding.state("post")
        self.domains = z3.And(encoding.type_ok(self.pre), encoding.type_ok(self.post))
        self.plain = Translator(self.pre, self.post)
        self._moved: dict[Swap, Translator] = {}

    def moved(self, swap: Swap) -> Translator:
        """A translator that reads slot ``i`` where the swap puts it."""
        from mrkcheck.check.z3_translate import Translator

        if swap not in self._moved:
            pre = [self.pre[s] for s in swap.slots]
            post = [self.post[s] for s in swap.slots]
            self._moved[swap] = Translator(pre, post)
        return self._moved[swap]

    def same_condition(self, before: Expr, after: Expr, swap: Swap) -> bool:
        moved, plain = self.moved(swap), self.plain
        if before.sort == BOOL:
            return self._valid(moved.boolean(before) == plain.boolean(after))
        return self._valid(moved.integer(before) == plain.integer(after))

    def same_instance(self, inst: ActionInstance, image: ActionInstance, swap: Swap) -> bool:
        """Both enabled in the same states, with the same successors (unassigned slots stay)."""
        moved, plain = self.moved(swap), self.plain
        ours = {swap.slots[t.slot]: moved.integer(v) for t, v in inst.effects}
        theirs = {t.slot: plain.integer(v) for t, v in image.effects}
        enabled = plain.boolean(image.enabled)
        same_post = [
            ours.get(s, self.pre[s]) == theirs.get(s, self.pre[s]) for s in ours.keys() | theirs
        ]
        z3 = self.z3
        return self._valid(
            z3.And(moved.boolean(inst.enabled) == enabled, z3.Implies(enabled, z3.And(same_post)))
        )

    def _valid(self, claim: Any) -> bool:
        solver = self.z3.Solver()
        solver.add(self.domains, self.z3.Not(claim))
        return solver.check() == self.z3.unsat
