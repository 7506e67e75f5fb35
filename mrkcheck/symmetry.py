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
from collections.abc import Callable
from operator import itemgetter

from mrkcheck.spec import Model, State, Universe


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
    """A function to the canonical representative, or None if the model has no symmetry."""
    universes = symmetric_universes(model)
    if not universes:
        return None
    if len(universes) == 1 and _columns_are_disjoint(model, universes[0]):
        return _column_sorter(model, universes[0])
    return _orbit_minimum(model, universes)


def _columns_are_disjoint(model: Model, universe: Universe) -> bool:
    return all(sum(u is universe for u in v.over) <= 1 for v in model.schema.variables)


def _column_sorter(model: Model, universe: Universe) -> Callable[[State], State]:
    """Sort the per-element columns of slots within each class of the universe."""
    columns: list[list[int]] = [[] for _ in universe.elements]
    for var, idx, slot in model.schema.slots():
        for u, element in zip(var.over, idx, strict=True):
            if u is universe:
                columns[universe.position(element)].append(slot)
    classes: dict[str, list[int]] = {}
    for p in range(len(universe)):
        classes.setdefault(universe.class_of(universe.elements[p]), []).append(p)
    groups = [members for members in classes.values() if len(members) > 1]
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
    slots = model.schema.slots()
    per_universe = [_class_permutations(u) for u in universes]
    getters = []
    for combo in itertools.product(*per_universe):
        image = {u.name: perm for u, perm in zip(universes, combo, strict=True)}
        source = [0] * model.schema.width
        for var, idx, slot in slots:
            moved = tuple(
                u.elements[image[u.name][u.position(e)]] if u.name in image else e
                for u, e in zip(var.over, idx, strict=True)
            )
            source[var.slot(moved)] = slot
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
