"""The vectorised backend: breadth-first search a whole level at a time, on packed integer keys.

Same search, same results as :mod:`mrkcheck.check.explicit` (``--backend vectorised``): the
frontier is an array of keys (:mod:`mrkcheck.check.packing`), expanded in chunks by functions
generated from the model's expressions (:mod:`mrkcheck.check.vector_compile`): each instance's
guard is a mask over the chunk, its effects replace bits of the parents' keys. Duplicates are
removed by sorting (numpy's SIMD sort, with each successor's position packed into the key's
unused low bits: :func:`_first_occurrences`) and looked up in the sorted array of visited keys.

The order of discovery is the per-state engine's: successors are ordered by (parent, action
instance) before deduplication, and the first occurrence of a key wins, so every state gets the
same number, parent and action as there, and every trace, deadlock and counterexample is the
one the explicit engine gives. A limit or ``stop when all violated`` is applied at the same
parent as there (the chunk is cut after it), so even a cut search reports the same statistics.

Memory per distinct state: its key in the sorted visited array (8 bytes per word), plus, for
traces, its parent's position among the parents of the chunk that found it (2 bytes; the chunk's
first number is kept once) and its action instance (1 byte up to 256 instances, else 2): 11 bytes
with one word, instead of a tuple and a dict entry. Traces are rebuilt from those links as in the
explicit engine, and replayed from the concrete initial state under symmetry. A chunk's successors,
its largest temporaries, are deduplicated in place (in blocks whose positions fit the key's spare
bits) rather than copied.

Liveness is not decided here: asked to (``record``), the search keeps every edge and writes the
state graph that :mod:`mrkcheck.check.liveness` reads, numbered as the explicit engine numbers it.
"""

from __future__ import annotations

import bisect
import gc
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mrkcheck.check.compile import Compiled
from mrkcheck.check.explicit import (
    PROGRESS_INTERVAL,
    Limits,
    Progress,
    _per_action,
    _result,
    _Search,
    trace_of_chain,
)
from mrkcheck.check.packing import Canon, Layout, Words, key_canonicalizer, layout_of
from mrkcheck.check.result import (
    FIRST_VIOLATION,
    INTERRUPTED,
    OUT_OF_MEMORY,
    VIOLATED,
    CheckResult,
    Trace,
)
from mrkcheck.check.stategraph import StateGraph
from mrkcheck.check.symmetry import canonicalizer
from mrkcheck.check.vector_compile import VectorCode, compile_vector
from mrkcheck.lang.model import ACTION, ALWAYS, Model, State

CHUNK = 1 << 13  # parents expanded together (at most 2**15: their positions are int16)


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
    """What :func:`mrkcheck.check.explicit.check` returns, computed a level at a time;
    ``record``, an empty graph, is filled with every state and edge explored, numbered as the
    explicit engine numbers them (for liveness, without symmetry)."""
    assert record is None or not symmetry, "the recorded graph must be the unreduced one"
    limits = limits or Limits()
    search = _Search(model, None)
    started = time.perf_counter()
    stopped, complete = "exhausted", True
    engine: _Engine | None = None
    try:
        search.canon = canonicalizer(model) if symmetry else None
        layout = layout_of(model, symmetry)
        engine = _Engine(
            search,
            layout,
            compile_vector(model, layout),
            key_canonicalizer(model, layout) if search.canon else None,
        )
        engine.edges = _Edges() if record is not None else None
        engine.stop_first = stop_at_first_violation
        # what replaying a trace under symmetry calls: this engine's step, not the compiled one
        unused = _not_needed
        search.compiled = Compiled(engine.step, unused, unused, unused, [], [], [], "")
        # the cycles that building and compiling the model left (syntax trees, generated code,
        # Z3's objects) freed first, so that the search reuses their memory instead of growing
        # the process (KMS 3x2: a peak of 158 MB instead of 173; the explicit engine's is not
        # lowered: its own states dominate it)
        gc.collect()
        stopped = engine.run(deadlock, limits, progress, started, stop_when_all_violated)
        complete = stopped == "exhausted"
    except KeyboardInterrupt:
        stopped, complete = INTERRUPTED, False
    except MemoryError:
        stopped, complete = OUT_OF_MEMORY, False
    if engine is not None:
        engine.finish()
        if stopped == OUT_OF_MEMORY:
            engine.drop()
        elif stopped in ("exhausted", "all_violated") and record is not None and engine.edges:
            engine.edges.fill(record, engine)
    search.stats.seconds = time.perf_counter() - started
    result = _result(search, complete, stopped, symmetry)
    result.engine = "vectorised"
    return result


def _not_needed(state: State) -> Any:
    """The per-state functions other than ``step``: a trace replay calls none of them."""
    raise AssertionError("only the step function is used when a trace is replayed")


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which of ``keys`` are in the sorted array ``sorted_keys``."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    # past the end, the last key (smaller than the one looked up) is read: not found
    return sorted_keys.take(pos, mode="clip") == keys


def _first_occurrences(
    keys: np.ndarray, spare: int, consume: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys``, sorted, and where each first occurs: ``np.unique(keys,
    return_index=True)``, whose stable sort of 64-bit keys is the slowest step of a level.

    One-word keys are sorted by numpy's fast (SIMD, unstable) sort instead, with each key's
    position in the ``spare`` low bits that no slot uses, so that the first of a run of equal keys
    is its first occurrence: in blocks of ``2**spare`` keys when there are more, whose distinct
    keys are then sorted with their block's number in those bits (the earliest block holding a
    key holds its first occurrence). With ``consume``, ``keys`` is sorted in place, block by
    block, instead of copied: a chunk's successors are the largest temporaries of a search."""
    n = len(keys)
    if keys.dtype != np.uint64 or not n:
        return np.unique(keys, return_index=True)
    block = 1 << spare
    if n <= block:
        return _packed_first(keys if consume else keys.copy(), spare)
    if spare < 8 or n > block * block:  # blocks too many or too small: an unstable argsort
        order = np.argsort(keys)
        ordered = keys[order]
        starts = np.flatnonzero(_differ_above(ordered, np.uint64(0)))
        return ordered[starts], np.minimum.reduceat(order, starts)
    blocks = [
        _packed_first(part if consume else part.copy(), spare)
        for part in (keys[at : at + block] for at in range(0, n, block))
    ]
    tagged = np.empty(sum(len(distinct) for distinct, _ in blocks), dtype=np.uint64)
    firsts: list[np.ndarray] = []
    at = 0
    blocks.reverse()
    while blocks:  # each block's keys freed once tagged
        block_distinct, block_first = blocks.pop()
        b = len(firsts)
        np.bitwise_or(block_distinct, np.uint64(b), out=tagged[at : at + len(block_distinct)])
        at += len(block_distinct)
        firsts.append(block_first + b * block)
    tagged.sort()
    # a block's keys keep their order among the sorted tagged keys: its first positions follow
    low = np.uint64(block - 1)
    tags = (tagged & low).astype(np.uint32)
    first = np.empty(len(tagged), dtype=np.int64)
    for b, block_first in enumerate(firsts):
        first[tags == b] = block_first
    del tags, firsts
    starts = _differ_above(tagged, low)  # the first of a run: from the earliest block holding it
    distinct = tagged[starts]
    distinct &= ~low
    return distinct, first[starts]


def _packed_first(keys: np.ndarray, spare: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys and where each first occurs, ``keys`` (at most ``2**spare`` of them,
    their ``spare`` low bits clear) sorted in place with their positions in those bits."""
    low = np.uint64((1 << spare) - 1)
    for at in range(0, len(keys), BLOCK):
        keys[at : at + BLOCK] |= np.arange(at, min(at + BLOCK, len(keys)), dtype=np.uint64)
    keys.sort()
    distinct = keys[_differ_above(keys, low)]
    least = (distinct & low).view(np.int64)  # positions: the same bits, signed
    distinct &= ~low
    return distinct, least


BLOCK = 1 << 16  # keys worked on at a time where a whole array's temporary is not needed


def _stable_order(values: np.ndarray, bound: int) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` for values in ``0 .. bound - 1``: each value packed
    above its position into 32 bits and sorted by numpy's SIMD sort, about twice as fast as the
    stable (radix) sort of int16 when the two fit."""
    n = len(values)
    low = max(n - 1, 1).bit_length()
    if max(bound - 1, 1).bit_length() + low > 32:
        return np.argsort(values, kind="stable")
    packed = (values.astype(np.uint32) << np.uint32(low)) | np.arange(n, dtype=np.uint32)
    packed.sort()
    return (packed & np.uint32((1 << low) - 1)).astype(np.intp)


def _differ_above(ordered: np.ndarray, low: np.uint64) -> np.ndarray:
    """For each of the sorted, non-empty keys ``ordered``: whether it is the first of a run of
    keys equal above the ``low`` bits (a mask; the first key always is)."""
    n = len(ordered)
    starts = np.empty(n, dtype=bool)  # a mask, not positions: 1 byte per key
    starts[0] = True
    for at in range(1, n, BLOCK):
        end = min(at + BLOCK, n)
        np.greater(ordered[at:end] ^ ordered[at - 1 : end - 1], low, out=starts[at:end])
    return starts


def _drain(parts: list[np.ndarray], dtype: np.dtype | type) -> np.ndarray:
    """``np.concatenate(parts)``, emptying ``parts`` as it goes, so that each part is freed
    once copied: the level's keys are not held twice (8 bytes per state at the peak)."""
    out = np.empty(sum(map(len, parts)), dtype=dtype)
    at = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        out[at : at + len(part)] = part
        at += len(part)
    return out


def _merge_in_place(visited: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The sorted, owning array ``visited`` grown in place by the sorted keys ``new``: old keys
    move right from the end, a block at a time, so no second copy of the visited set is made
    (np.insert would hold both, 8 bytes more per state at the peak)."""
    old, extra = len(visited), len(new)
    at = np.searchsorted(visited, new)  # old keys before each new one
    visited.resize(old + extra, refcheck=False)  # only this object refers to the buffer
    for end in range(old, 0, -BLOCK):
        start = max(0, end - BLOCK)
        moved = np.arange(start, end)
        visited[moved + np.searchsorted(at, moved, side="right")] = visited[start:end]
    visited[at + np.arange(extra)] = new
    return visited


@dataclass
class _Edges:
    """Every edge explored, kept as arrays until the search ends, then written into a
    :class:`StateGraph` (which liveness reads): the keys of the states in the order they were
    numbered, and per expanded state its successors' keys and action instances."""

    numbered: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)  # edges of each expanded state
    targets: list[np.ndarray] = field(default_factory=list)
    instances: list[np.ndarray] = field(default_factory=list)

    def fill(self, graph: StateGraph, engine: _Engine) -> None:
        """Write the states (as tuples), tree links and edges into ``graph``."""
        layout = engine.layout
        keys = _concat(self.numbered, layout.key_dtype)
        columns = [c.tolist() for c in layout.columns(layout.split(keys))]
        graph.states = list(zip(*columns, strict=True)) if columns else []
        graph.index = {state: n for n, state in enumerate(graph.states)}
        graph.parent, graph.via = map(_ints, engine.links())
        order = np.argsort(keys)
        targets = _concat(self.targets, layout.key_dtype)
        graph.target = _ints(order[np.searchsorted(keys[order], targets)])
        graph.instance = _ints(_concat(self.instances, np.int16))
        counts = _concat(self.counts, np.int64)
        graph.start = _ints(np.concatenate([[0], np.cumsum(counts)]))


def _concat(parts: list[np.ndarray], dtype: np.dtype | type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _ints(values: np.ndarray) -> array[int]:
    """A StateGraph column (C ints) from a numpy array."""
    out = array("i")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int32).tobytes())
    return out


@dataclass
class _Chunk:
    """The successors of a run of parents, in (parent, instance) order, before they count."""

    parent: np.ndarray  # position of the parent within the chunk, nondecreasing
    instance: np.ndarray
    concrete: Words | None  # the successors as generated, kept only when edges are recorded
    new: np.ndarray  # positions of the first successor of each new (canonical) state, ascending
    fresh: np.ndarray  # the keys of those new states
    bad: dict[int, int] = field(default_factory=dict)  # action property -> first position
    bad_state: dict[int, State] = field(default_factory=dict)  # the successor there
    violated: dict[int, int] = field(default_factory=dict)  # invariant -> first new state
    satisfied: dict[int, int] = field(default_factory=dict)  # goal -> first new state
    dead: int | None = None  # the first parent with no successor (and not terminal)

    def first_parent(self, prop: int) -> int:
        """The parent whose expansion finds the first violation of ``prop`` here."""
        if prop in self.bad:
            return int(self.parent[self.bad[prop]])
        return int(self.parent[self.new[self.violated[prop]]])

    def cut_after(self, last_parent: int) -> None:
        """Forget what the parents after ``last_parent`` found (a limit stopped before them)."""
        end = int(np.searchsorted(self.parent, last_parent, side="right"))
        self.parent, self.instance = self.parent[:end], self.instance[:end]
        if self.concrete is not None:
            self.concrete = [w[:end] for w in self.concrete]
        kept = int(np.searchsorted(self.new, end))
        self.new, self.fresh = self.new[:kept], self.fresh[:kept]
        self.bad = {p: pos for p, pos in self.bad.items() if pos < end}
        self.bad_state = {p: self.bad_state[p] for p in self.bad}
        self.violated = {p: j for p, j in self.violated.items() if j < kept}
        self.satisfied = {p: j for p, j in self.satisfied.items() if j < kept}
        if self.dead is not None and self.dead > last_parent:
            self.dead = None


class _Engine:
    """The mutable state of one level-at-a-time search."""

    def __init__(self, search: _Search, layout: Layout, code: VectorCode, canon: Canon | None):
        self.search, self.layout, self.code, self.canon = search, layout, code, canon
        model = search.model
        self.names = [inst.action for inst in model.instances]
        self.fired = np.zeros(len(self.names), dtype=np.int64)
        self.found = np.zeros(len(self.names), dtype=np.int64)
        self.checked = sum(p.kind in (ALWAYS, ACTION) for p in model.properties)
        # TLC's default: stop after the parent that first violates a property not documented
        # as violated (see explicit._explore)
        self.stop_first = False
        self.unexpected = {i for i, p in enumerate(model.properties) if p.expected != VIOLATED}
        empty = np.empty(0, dtype=layout.key_dtype)
        # both grow in place (_merge_in_place), so each owns its buffer
        self.visited = np.empty(0, dtype=layout.key_dtype)  # visited keys, sorted
        self.level = np.empty(0, dtype=layout.key_dtype)  # this level's new keys, sorted
        self.roots: list[State] = []  # the initial states, by number
        self.frontier, self.frontier_base = empty, 0
        self.upcoming: list[np.ndarray] = []
        self.distinct = 0
        self.edges: _Edges | None = None  # every edge too, when the graph is recorded
        # Each state's parent and action instance, for traces, in runs (one per chunk): the
        # run's first number, the number of its chunk's first parent (-1: initial states),
        # and per state its parent's position in that chunk and its instance (2 + 1 bytes
        # where a model has at most 256 instances, instead of an 8-byte number and more)
        self.starts: list[int] = []
        self.bases: list[int] = []
        self.offsets: list[np.ndarray] = []
        self.vias: list[np.ndarray] = []
        self.via_dtype = np.uint8 if len(self.names) <= 256 else np.int16

    # --- the search ---------------------------------------------------------------------------

    def run(
        self,
        deadlock: bool,
        limits: Limits,
        progress: Progress | None,
        started: float,
        stop_early: bool,
    ) -> str:
        stats = self.search.stats
        self._initial()
        next_report = time.perf_counter() + PROGRESS_INTERVAL
        while len(self.frontier):
            if limits.max_depth is not None and stats.depth >= limits.max_depth:
                return "max_depth"
            for start in range(0, len(self.frontier), CHUNK):
                stop = self._expand(start, deadlock, limits, stop_early)
                if stop is not None:
                    return stop
                now = time.perf_counter()
                if limits.max_seconds is not None and now - started > limits.max_seconds:
                    return "max_seconds"
                if progress is not None and now >= next_report:
                    stats.distinct = self.distinct
                    stats.queue = len(self.frontier) - start + sum(map(len, self.upcoming))
                    stats.seconds = now - started
                    progress(stats)
                    next_report = now + PROGRESS_INTERVAL
            self._next_level()
            if len(self.frontier):
                stats.depth += 1
                stats.levels.append(len(self.frontier))
        return "exhausted"

    def _initial(self) -> None:
        model, layout, stats = self.search.model, self.layout, self.search.stats
        stats.generated += len(model.initial)
        words = layout.split(layout.pack(list(model.initial)))
        keys = layout.combine(self.canon(words) if self.canon else words)
        _, first = np.unique(keys, return_index=True)
        new = np.sort(first)
        minus_one = np.full(len(new), -1, dtype=np.int64)
        self.roots = [self.layout.unpack(k) for k in keys[new]]
        self._add(keys[new], -1, np.zeros(len(new), dtype=np.int16), minus_one)
        chunk = _Chunk(minus_one, minus_one, words, new, keys[new])
        self._check_new(chunk, keys[new])
        self._report(chunk, 0, 0)
        self._next_level()
        stats.levels.append(len(self.frontier))
        stats.depth = 1 if len(self.frontier) else 0

    def _expand(self, start: int, deadlock: bool, limits: Limits, stop_early: bool) -> str | None:
        """Expand the parents ``start .. start + CHUNK`` of the frontier; a stop reason if a
        limit or the last violation falls among them."""
        parents = self.frontier[start : start + CHUNK]
        words = self.layout.split(parents)
        columns = self.layout.columns(words)
        chunk = self._successors(columns, words)
        first_new = self.distinct
        if deadlock and self.search.deadlock is None:
            chunk.dead = self._dead(columns, chunk.parent, len(parents))
        self._check_new(chunk, chunk.fresh)
        stop, last = self._stop(chunk, limits, stop_early)
        if last is not None:
            chunk.cut_after(last)
        if self.edges is not None:
            expanded = len(parents) if last is None else last + 1
            self.edges.counts.append(np.bincount(chunk.parent, minlength=expanded)[:expanded])
            assert chunk.concrete is not None  # kept when edges are recorded
            self.edges.targets.append(self.layout.combine(chunk.concrete))
            self.edges.instances.append(chunk.instance)
        stats = self.search.stats
        stats.generated += len(chunk.parent)
        self.fired += np.bincount(chunk.instance, minlength=len(self.names))
        via = chunk.instance[chunk.new]
        self.found += np.bincount(via, minlength=len(self.names))
        self._add(chunk.fresh, self.frontier_base + start, chunk.parent[chunk.new], via)
        self._report(chunk, first_new, self.frontier_base + start)
        return stop

    def _successors(self, columns: list[np.ndarray], words: Words) -> _Chunk:
        """Every successor of the chunk, ordered by (parent, instance) as the explicit engine
        generates them; the first occurrence of each new canonical key marked."""
        positions: list[np.ndarray] = []
        instances: list[np.ndarray] = []
        parts: list[list[np.ndarray]] = [[] for _ in words]
        bad: list[tuple[int, np.ndarray]] = []
        offset = 0
        for i, mask in enumerate(self.code.guards(columns)):
            if mask is None:
                continue
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            successors, violations = self.code.fire[i](columns, idx, [w[idx] for w in words])
            for part, w in zip(parts, successors, strict=True):
                part.append(w)
            positions.append(idx.astype(np.int16))
            instances.append(np.full(len(idx), i, dtype=np.int16))
            bad.extend((p, offset + np.flatnonzero(m)) for p, m in violations if m.any())
            offset += len(idx)
        if not positions:
            none = np.empty(0, dtype=np.int16)
            empty = [np.empty(0, dtype=np.uint64) for _ in words]
            return _Chunk(none, none, empty, none.astype(np.int64), self.layout.combine(empty))
        parent = _drain(positions, np.int16)
        order = _stable_order(parent, len(words[0]))
        parent = parent[order]
        instance = _drain(instances, np.int16)[order]
        # each word's parts freed once ordered: the successors are held once when deduplicated
        concrete = [_drain(part, np.uint64)[order] for part in parts]
        first_bad: dict[int, int] = {}
        if bad:
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            for p, hits in bad:
                if p not in self.search.violations:
                    first = int(rank[hits].min())
                    first_bad[p] = min(first, first_bad.get(p, first))
        del order
        layout = self.layout
        bad_state = {
            p: layout.unpack(layout.combine([w[pos : pos + 1] for w in concrete]))
            for p, pos in first_bad.items()
        }
        # the successors are sorted in place when deduplicated, unless the edges need them
        keep = self.edges is not None
        new, fresh = self._fresh(layout.combine(concrete), consume=not keep)
        kept = concrete if keep else None
        return _Chunk(parent, instance, kept, new, fresh, first_bad, bad_state)

    def _fresh(self, keys: np.ndarray, consume: bool) -> tuple[np.ndarray, np.ndarray]:
        """The new states among the successors ``keys``: the position of the first successor
        of each (ascending) and its canonical key; with ``consume``, ``keys`` is reordered.

        Only distinct successors not already visited are canonicalised: a successor whose key
        is a visited key is a visited canonical state, whatever its orbit."""
        spare = self.layout.spare_bits
        unique, first = _first_occurrences(keys, spare, consume)
        unseen = ~(self._seen(unique))
        unique, first = unique[unseen], first[unseen]
        if self.canon is not None and len(unique):
            by_position = np.argsort(first)  # so that np.unique keeps the earliest successor
            first = first[by_position]
            layout = self.layout
            canonical = layout.combine(self.canon(layout.split(unique[by_position])))
            unique, earliest = _first_occurrences(canonical, spare, consume=True)
            first = first[earliest]
            unseen = ~self._seen(unique)
            unique, first = unique[unseen], first[unseen]
        order = np.argsort(first)
        return first[order], unique[order]

    def _seen(self, keys: np.ndarray) -> np.ndarray:
        return _member(self.visited, keys) | _member(self.level, keys)

    def _dead(self, columns: list[np.ndarray], parent: np.ndarray, n: int) -> int | None:
        """The first parent with no successor that is not a terminal state."""
        idle = np.flatnonzero(np.bincount(parent, minlength=n) == 0)
        if not len(idle):
            return None
        idle = idle[~self.code.terminal(columns)[idle]]
        return int(idle[0]) if len(idle) else None

    def _check_new(self, chunk: _Chunk, new_keys: np.ndarray) -> None:
        """The first new state violating each invariant, satisfying each goal."""
        if not len(new_keys):
            return
        columns = self.layout.columns(self.layout.split(new_keys))
        search = self.search
        for p, ok in self.code.invariants(columns):
            hits = np.flatnonzero(~ok)
            if len(hits) and p not in search.violations:
                chunk.violated[p] = int(hits[0])
        for p, ok in self.code.goals(columns):
            hits = np.flatnonzero(ok)
            if len(hits) and p not in search.witnesses:
                chunk.satisfied[p] = int(hits[0])

    def _stop(
        self, chunk: _Chunk, limits: Limits, stop_early: bool
    ) -> tuple[str | None, int | None]:
        """Why and after which parent the explicit engine would stop within this chunk: it
        checks after each parent whether every property is violated, then ``max_states``."""
        stop, last = None, None
        props = set(chunk.bad) | set(chunk.violated)
        if stop_early and self.checked and len(props) + len(self.search.violations) >= self.checked:
            needed = self.checked - len(self.search.violations)  # 0: all were violated before
            last = sorted(chunk.first_parent(p) for p in props)[needed - 1] if needed > 0 else 0
            stop = "all_violated"
        first = [p for p in props if p in self.unexpected and p not in self.search.violations]
        if self.stop_first and first:
            at = min(chunk.first_parent(p) for p in first)
            if last is None or at < last:
                stop, last = FIRST_VIOLATION, at
        limit = limits.max_states
        if limit is not None and self.distinct + len(chunk.new) >= limit:
            j = limit - self.distinct - 1  # the new state that reaches the limit
            at = int(chunk.parent[chunk.new[j]]) if j >= 0 else 0
            if last is None or at < last:
                stop, last = "max_states", at
        return stop, last

    def _add(self, keys: np.ndarray, base: int, offsets: np.ndarray, via: np.ndarray) -> None:
        """Number the new states ``keys`` (in order of discovery) and remember their links:
        parent number ``base`` + ``offsets`` (-1 if ``base`` is), action instance ``via``."""
        if not len(keys):
            return
        self.level = _merge_in_place(self.level, np.sort(keys))
        self.starts.append(self.distinct)
        self.bases.append(base)
        self.offsets.append(offsets.astype(np.int16))
        if self.edges is not None:
            self.edges.numbered.append(keys)
        self.vias.append(via.astype(self.via_dtype))
        self.upcoming.append(keys)
        self.distinct += len(keys)

    def _next_level(self) -> None:
        """The states found in this level become the frontier; they join the visited set."""
        self.frontier_base += len(self.frontier)
        self.frontier = np.empty(0, dtype=self.layout.key_dtype)  # freed before the next is built
        self.frontier = _drain(self.upcoming, self.layout.key_dtype)
        if len(self.level):
            self.visited = _merge_in_place(self.visited, self.level)
        self.level = np.empty(0, dtype=self.layout.key_dtype)  # owning: it grows in place

    # --- results -----------------------------------------------------------------------------

    def _report(self, chunk: _Chunk, first_new: int, parent_base: int) -> None:
        """Traces for what the chunk found (after its new states are numbered)."""
        search = self.search
        for p, j in chunk.violated.items():
            search.violations[p] = self._trace(first_new + j, None, p)
        for p, j in chunk.satisfied.items():
            search.witnesses[p] = self._trace(first_new + j, None, p)
        if chunk.dead is not None:
            search.deadlock = self._trace(parent_base + chunk.dead, None, None)
        for p, pos in chunk.bad.items():
            last = (int(chunk.instance[pos]), chunk.bad_state[p])
            search.violations[p] = self._trace(parent_base + int(chunk.parent[pos]), last, p)

    def _trace(self, number: int, last: tuple[int, State] | None, prop: int | None) -> Trace:
        """The trace to state ``number``: its links up to an initial state, then the states
        replayed forward (no key is stored by number: the links and the model give them)."""
        vias: list[int] = []
        cursor = number
        while True:
            run = bisect.bisect_right(self.starts, cursor) - 1
            if self.bases[run] < 0:
                break
            at = cursor - self.starts[run]
            vias.append(int(self.vias[run][at]))
            cursor = self.bases[run] + int(self.offsets[run][at])
        state = self.roots[cursor]
        chain = [(-1, state)]
        for via in reversed(vias):
            state = self._apply(state, via)
            chain.append((via, state))
        if last is not None:
            chain.append(last)
        return trace_of_chain(self.search, chain, prop, last is not None)

    def _apply(self, state: State, via: int) -> State:
        """The (canonical) successor of ``state`` under instance ``via``."""
        out: list[tuple[int, State]] = []
        self.step(state, out, [])
        successor = next(t for i, t in out if i == via)
        canon = self.search.canon
        return canon(successor) if canon else successor

    def step(self, state: State, out: list, bad: list) -> None:
        """The per-state step function of :mod:`mrkcheck.check.compile` (what replaying a trace
        under symmetry calls), computed by this engine's code on a level of one state: the
        per-state compilation of a large model takes tens of megabytes for a moment."""
        layout, code = self.layout, self.code
        words = layout.split(layout.pack([state]))
        columns = layout.columns(words)
        first = np.zeros(1, dtype=np.intp)
        for i, mask in enumerate(code.guards(columns)):
            if mask is None or not mask[0]:
                continue
            successor, violations = code.fire[i](columns, first, words)
            t = layout.unpack(layout.combine(successor))
            out.append((i, t))
            bad.extend((p, i, t) for p, m in violations if m[0])

    def links(self) -> tuple[np.ndarray, np.ndarray]:
        """Every state's parent's number and action instance (-1 for an initial state)."""
        parents, vias = [], []
        for base, offsets, via in zip(self.bases, self.offsets, self.vias, strict=True):
            initial = base < 0
            parents.append(np.full(len(offsets), -1) if initial else offsets + np.int64(base))
            vias.append(np.full(len(via), -1) if initial else via.astype(np.int64))
        return _concat(parents, np.int64), _concat(vias, np.int64)

    def finish(self) -> None:
        """The statistics the explicit engine keeps, whatever stopped the search."""
        stats = self.search.stats
        stats.distinct = self.distinct
        stats.queue = len(self.frontier)
        self.search.fired = [int(n) for n in self.fired]
        stats.fired = _per_action(self.names, self.search.fired)
        stats.found = _per_action(self.names, [int(n) for n in self.found])

    def drop(self) -> None:
        """Free the visited set (after a MemoryError: the reports need memory)."""
        empty = np.empty(0, dtype=self.layout.key_dtype)
        self.visited = self.level = self.frontier = empty
        self.offsets, self.vias, self.upcoming = [], [], []
