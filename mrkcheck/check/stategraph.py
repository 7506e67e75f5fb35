"""The explored state graph in a compact form, recorded once and read by liveness and the export.

The safety search records it as it goes when asked (:func:`mrkcheck.check.explicit.check`'s
``record``), so that liveness and ``mrkcheck graph`` need no second exploration. States are
numbered in discovery order, which is also the breadth-first search's order of expansion: the
edges out of state ``n`` are therefore one contiguous run of the edge arrays, from ``start[n]``
to ``start[n + 1]`` (compressed sparse rows). An edge costs eight bytes (its target and its
action instance as C ints) instead of a tuple in a per-state list.

States are concrete (no symmetry reduction): fairness is per concrete instance, and a picture of
the graph should show what the model does, not a quotient.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from mrkcheck.lang.model import Model, State


def _ints() -> array[int]:
    return array("i")


@dataclass
class StateGraph:
    """Every state found, its breadth-first tree link and, for each expanded state, its edges."""

    model: Model
    states: list[State] = field(default_factory=list)
    index: dict[State, int] = field(default_factory=dict)
    # The breadth-first tree (for shortest prefixes): where each state was first reached from
    # (-1: an initial state) and by which action instance.
    parent: array[int] = field(default_factory=_ints)
    via: array[int] = field(default_factory=_ints)
    # The edges of state n are target/instance[start[n]:start[n + 1]], for n < expanded.
    start: array[int] = field(default_factory=lambda: array("i", [0]))
    target: array[int] = field(default_factory=_ints)
    instance: array[int] = field(default_factory=_ints)
    complete: bool = True

    def add(self, state: State, parent: int, via: int) -> tuple[int, bool]:
        """The number of ``state``, and whether it is new (then numbered next)."""
        found = self.index.get(state)
        if found is not None:
            return found, False
        n = len(self.states)
        self.index[state] = n
        self.states.append(state)
        self.parent.append(parent)
        self.via.append(via)
        return n, True

    @property
    def expanded(self) -> int:
        """How many states have their edges recorded: states ``0 .. expanded - 1``."""
        return len(self.start) - 1

    def expand(self, out: list[tuple[int, State]]) -> None:
        """Record the edges of the next state to expand: ``out`` is its step function's
        (instance, successor) list, whose successors have all been added already."""
        index = self.index
        for instance, successor in out:
            self.target.append(index[successor])
            self.instance.append(instance)
        self.start.append(len(self.target))

    def edges(self, n: int) -> Iterator[tuple[int, int]]:
        """The (successor, action instance) edges out of state ``n``, in the step order."""
        first, end = self.start[n], self.start[n + 1]
        return zip(self.target[first:end], self.instance[first:end], strict=True)

    def successors(self, n: int) -> array[int]:
        """The successors of state ``n`` (with repeats, one per edge)."""
        return self.target[self.start[n] : self.start[n + 1]]

    def depths(self) -> list[int]:
        """Each state's breadth-first level (0: initial); a parent is always numbered first."""
        depth: list[int] = []
        for up in self.parent:
            depth.append(0 if up < 0 else depth[up] + 1)
        return depth

    def clear(self) -> None:
        """Drop everything (after a MemoryError: building the reports needs memory again)."""
        self.states.clear()
        self.index.clear()
        for numbers in (self.parent, self.via, self.target, self.instance):
            del numbers[:]
        del self.start[1:]
        self.complete = False
