"""All cores: the breadth-first search partitioned by state hash, with the serial engine's results.

Each of ``W`` partitions owns the states whose hash is its number modulo ``W``: it keeps their
visited set and expands them. A level goes in two halves: every partition expands its frontier and
sends each successor it does not own to its owner (once: a partition remembers what it sent, so a
state generated many times crosses once), then every partition keeps the successors it receives
that it had not seen, and checks them. Partitions share nothing but these batches; a team runs
them in processes of this machine (:class:`ProcessTeam`) or on a cluster
(:mod:`mrkcheck.check.cluster`), driven by the same loop (:func:`search`).

Same counts and traces as :mod:`mrkcheck.check.explicit`. Each state carries a key, its path
from an initial state written as digits (the initial state's number, then the action instance
of each step): keys ordered as numbers are ordered as the serial search discovers states, because
it expands a level in discovery order and each state's successors in instance order. So when
several partitions reach a state in one level the smallest key wins, which is the parent and
action the serial search records; a partition expands its frontier in key order; and of the
violations, deadlocks and goals found in a level the one with the smallest key is the serial
search's first. Traces are the key's path replayed (:func:`trace_of`), through the serial engine's
trace builder (concrete runs under symmetry included). A partition stores its states without
parent links: the key is the trace.

What differs: a search cut by ``--max-states``, ``--max-seconds`` or by every property being
violated stops at the end of a level, not in the middle of one, so the counts of a cut search are
larger than the serial search's (its traces are the same). The state graph that liveness reads is
not recorded: liveness explores it again, in one process.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mrkcheck.check.compile import Compiled, compile_model
from mrkcheck.check.explicit import (
    PROGRESS_INTERVAL,
    Limits,
    Progress,
    _per_action,
    _result,
    _Search,
    _trace_to,
)
from mrkcheck.check.result import (
    FIRST_VIOLATION,
    INTERRUPTED,
    OUT_OF_MEMORY,
    VIOLATED,
    CheckResult,
    Trace,
)
from mrkcheck.check.symmetry import canonicalizer
from mrkcheck.lang.model import Model, State

Batch = list[tuple[State, int]]  # (state, key) for its owner
Canon = Callable[[State], State] | None


@dataclass
class LevelReport:
    """What one partition found in one level (or in the initial states)."""

    generated: int = 0
    new: int = 0
    fired: list[int] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    invariant: dict[int, tuple[int, State]] = field(default_factory=dict)  # prop -> (key, state)
    goal: dict[int, tuple[int, State]] = field(default_factory=dict)
    # prop -> (key of the expanded state, position in its violations, instance, state, successor)
    action: dict[int, tuple[int, int, int, State, State]] = field(default_factory=dict)
    deadlock: tuple[int, State] | None = None
    error: BaseException | None = None


def key_base(model: Model) -> int:
    """The radix of the keys: larger than every instance index and initial-state number."""
    return max(len(model.instances), len(model.initial)) + 1


class Partition:
    """The states one partition owns, and the two halves of a level on them."""

    def __init__(
        self,
        model: Model,
        symmetry: bool,
        deadlock: bool,
        index: int,
        count: int,
        prepared: tuple[Compiled, Canon] | None = None,
    ):
        """``prepared``: the compiled model and canonicaliser, when the driver made them (they
        cost a second or more with symmetry, whose declaration is checked first)."""
        self.model, self.index, self.count, self.deadlock = model, index, count, deadlock
        if prepared is None:
            prepared = (compile_model(model), canonicalizer(model) if symmetry else None)
        self.compiled, self.canon = prepared
        self.base = key_base(model)
        # Owned states: 0 for those of earlier levels, the key for those new in this level.
        self.seen: dict[State, int] = {}
        self.fresh: list[State] = []  # new in this level, in the order first seen
        self.sent: set[State] = set()
        self.frontier: list[tuple[int, State]] = []
        self.report = LevelReport()

    def _fresh_report(self) -> LevelReport:
        n = len(self.model.instances)
        self.report = LevelReport(fired=[0] * n, found=[0] * n)
        return self.report

    def start(self) -> LevelReport:
        """The initial states this partition owns (partition 0 counts them all as generated)."""
        report = self._fresh_report()
        if self.index == 0:
            report.generated = len(self.model.initial)
        for number, s0 in enumerate(self.model.initial):
            c = self.canon(s0) if self.canon else s0
            if hash(c) % self.count == self.index and c not in self.seen:
                self.seen[c] = number + 1
                self.fresh.append(c)
        return self._keep([], initial=True)

    def expand(self) -> list[Batch]:
        """Expand the frontier in key order; the successors owned elsewhere, by owner."""
        report = self._fresh_report()
        step, terminal, canon = self.compiled.step, self.compiled.terminal, self.canon
        seen, fresh, sent = self.seen, self.fresh, self.sent
        base, count, me, fired = self.base, self.count, self.index, report.fired
        outgoing: list[Batch] = [[] for _ in range(count)]
        for key, s in self.frontier:
            out: list[tuple[int, State]] = []
            bad: list[tuple[int, int, State]] = []
            step(s, out, bad)
            report.generated += len(out)
            if not out and self.deadlock and report.deadlock is None and not terminal(s):
                report.deadlock = (key, s)
            for index, t in out:
                fired[index] += 1
                c = canon(t) if canon else t
                owner = hash(c) % count
                if owner == me:
                    if c not in seen:  # seen in this level already: with a smaller key
                        seen[c] = key * base + index
                        fresh.append(c)
                elif c not in sent:
                    sent.add(c)
                    outgoing[owner].append((c, key * base + index))
            for position, (prop, index, t) in enumerate(bad):
                if prop not in report.action:
                    report.action[prop] = (key, position, index, s, t)
        return outgoing

    def absorb(self, batches: Sequence[Batch]) -> LevelReport:
        """Keep the unseen successors (the smallest key of each), check them: the next frontier."""
        return self._keep(batches, initial=False)

    def _keep(self, batches: Sequence[Batch], initial: bool) -> LevelReport:
        report, seen, fresh = self.report, self.seen, self.fresh
        for batch in batches:
            for c, key in batch:
                known = seen.get(c)
                if known is None:
                    seen[c] = key
                    fresh.append(c)
                elif key < known:  # never for a state of an earlier level (0)
                    seen[c] = key
        frontier = sorted((seen[c], c) for c in fresh)
        violated, satisfied = self.compiled.violated, self.compiled.satisfied
        has_goals = bool(self.compiled.goals)
        for key, c in frontier:
            seen[c] = 0
            if not initial:
                report.found[key % self.base] += 1
            for prop in violated(c) or ():
                report.invariant.setdefault(prop, (key, c))
            if has_goals:
                for prop in satisfied(c):
                    report.goal.setdefault(prop, (key, c))
        self.frontier, self.fresh = frontier, []
        report.new = len(frontier)
        return report


class Team(Protocol):
    """Partitions somewhere, driven level by level."""

    def start(self) -> list[LevelReport]: ...

    def level(self) -> list[LevelReport]: ...

    def close(self) -> None: ...


# --- processes of this machine --------------------------------------------------------------------


class ProcessTeam:
    """One process per partition, forked, so that the model, its compiled code and its
    canonicaliser (``prepared``) are not made again nor pickled; partitions send each other their
    batches through queues, and the driver only their reports."""

    def __init__(
        self, model: Model, deadlock: bool, workers: int, prepared: tuple[Compiled, Canon]
    ):
        ctx = multiprocessing.get_context("fork")
        self.inboxes = [ctx.Queue() for _ in range(workers)]
        self.links = []
        self.processes = []
        for index in range(workers):
            mine, theirs = ctx.Pipe()
            args = (model, prepared, deadlock, index, workers, theirs, self.inboxes)
            process = ctx.Process(target=_serve, args=args, daemon=True)
            process.start()
            self.links.append(mine)
            self.processes.append(process)

    def _ask(self, command: str) -> list[LevelReport]:
        for link in self.links:
            link.send(command)
        reports = [link.recv() for link in self.links]
        for report in reports:
            if report.error is not None:
                raise report.error
        return reports

    def start(self) -> list[LevelReport]:
        return self._ask("start")

    def level(self) -> list[LevelReport]:
        return self._ask("level")

    def close(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()  # they ignore SIGINT and SIGTERM: those are the driver's
        for process in self.processes:
            process.join()
        for queue in self.inboxes:
            queue.close()
            queue.cancel_join_thread()


def _serve(
    model: Model,
    prepared: tuple[Compiled, Canon],
    deadlock: bool,
    index: int,
    count: int,
    link: Any,
    inboxes: list[Any],
) -> None:
    """A worker process. Ctrl-C and SIGTERM (sent to the whole process group) are the driver's
    to handle: it keeps what was found and ends the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A partition makes no reference cycles (states are tuples of ints, kept in a dict and a
    # set), and a full collection would walk all of them again and again, and copy the pages of
    # the objects inherited from the driver: no cyclic garbage collector in the workers.
    gc.disable()
    part = Partition(model, prepared[1] is not None, deadlock, index, count, prepared)
    while True:
        command = link.recv()
        try:
            if command == "start":
                report = part.start()
            else:
                outgoing = part.expand()
                for owner, batch in enumerate(outgoing):
                    if owner != index:
                        inboxes[owner].put(batch)
                report = part.absorb([inboxes[index].get() for _ in range(count - 1)])
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - the driver reports it
            report = LevelReport(error=exc)
        link.send(report)


# --- the driver -----------------------------------------------------------------------------------


@dataclass
class _Found:
    """The first (smallest key, earliest level) of each kind of finding, as the serial search."""

    invariant: dict[int, tuple[int, State]] = field(default_factory=dict)
    goal: dict[int, tuple[int, State]] = field(default_factory=dict)
    action: dict[int, tuple[int, int, int, State, State]] = field(default_factory=dict)
    deadlock: tuple[int, State] | None = None

    def merge(self, reports: Sequence[LevelReport]) -> None:
        for mine, name in ((self.invariant, "invariant"), (self.goal, "goal")):
            level: dict[int, tuple[int, State]] = {}
            for report in reports:
                for prop, hit in getattr(report, name).items():
                    if prop not in mine and (prop not in level or hit[0] < level[prop][0]):
                        level[prop] = hit
            mine.update(level)
        actions: dict[int, tuple[int, int, int, State, State]] = {}
        for report in reports:
            for prop, hit in report.action.items():
                if prop not in self.action and (prop not in actions or hit[:2] < actions[prop][:2]):
                    actions[prop] = hit
        self.action.update(actions)
        dead = [r.deadlock for r in reports if r.deadlock is not None]
        if self.deadlock is None and dead:
            self.deadlock = min(dead, key=lambda d: d[0])


def search(
    model: Model,
    team: Callable[[tuple[Compiled, Canon]], Team],
    *,
    symmetry: bool = False,
    deadlock: bool = True,
    limits: Limits | None = None,
    progress: Progress | None = None,
    stop_when_all_violated: bool = True,
    engine: str = "explicit",
    stop_at_first_violation: bool = False,
) -> CheckResult:
    """The partitioned search of ``model`` by the partitions ``team(prepared)`` starts (given
    the compiled model and canonicaliser, made once here); the result is the serial engine's
    (see the module's doc for a cut search)."""
    limits = limits or Limits()
    record = _Search(model, None)
    n = len(model.instances)
    fired, found_per_action = [0] * n, [0] * n
    found = _Found()
    stats = record.stats
    started = time.perf_counter()
    stopped, complete = "exhausted", True
    running: Team | None = None
    try:  # compiling and checking the symmetry take a moment too: Ctrl-C there is kept
        record.compiled = compile_model(model)
        record.canon = canonicalizer(model) if symmetry else None
        running = team((record.compiled, record.canon))
        stopped = _drive(
            running,
            model,
            found,
            stats,
            fired,
            found_per_action,
            limits,
            progress,
            started,
            stop_when_all_violated,
            stop_at_first_violation,
        )
        complete = stopped == "exhausted"
    except KeyboardInterrupt:
        stopped, complete = INTERRUPTED, False
    except MemoryError:
        stopped, complete = OUT_OF_MEMORY, False
    finally:
        if running is not None:
            running.close()
    stats.seconds = time.perf_counter() - started
    stats.fired = _per_action([i.action for i in model.instances], fired)
    stats.found = _per_action([i.action for i in model.instances], found_per_action)
    record.fired = fired
    _traces(record, found, key_base(model))
    result = _result(record, complete, stopped, symmetry)
    result.engine = engine
    return result


def _drive(
    team: Team,
    model: Model,
    found: _Found,
    stats: Any,
    fired: list[int],
    found_per_action: list[int],
    limits: Limits,
    progress: Progress | None,
    started: float,
    stop_when_all_violated: bool,
    stop_at_first_violation: bool,
) -> str:
    def add(reports: list[LevelReport]) -> int:
        new = sum(r.new for r in reports)
        stats.generated += sum(r.generated for r in reports)
        stats.distinct += new
        for r in reports:
            for i, k in enumerate(r.fired):
                fired[i] += k
            for i, k in enumerate(r.found):
                found_per_action[i] += k
        found.merge(reports)
        return new

    checked = sum(1 for p in model.properties if p.kind in ("always", "action"))
    unexpected = {i for i, p in enumerate(model.properties) if p.expected != VIOLATED}
    frontier = add(team.start())
    stats.levels.append(frontier)
    stats.depth = 1 if frontier else 0
    next_report = time.perf_counter() + PROGRESS_INTERVAL
    while frontier:
        if limits.max_depth is not None and stats.depth >= limits.max_depth:
            return "max_depth"
        frontier = add(team.level())
        if frontier:
            stats.depth += 1
            stats.levels.append(frontier)
        stats.queue = frontier
        now = time.perf_counter()
        if progress is not None and now >= next_report:
            stats.seconds = now - started
            progress(stats)
            next_report = now + PROGRESS_INTERVAL
        if (
            stop_when_all_violated
            and checked
            and len(found.invariant) + len(found.action) >= checked
        ):
            return "all_violated"
        if stop_at_first_violation and not unexpected.isdisjoint([*found.invariant, *found.action]):
            return FIRST_VIOLATION  # at the end of the level, as the other limits here
        if limits.max_states is not None and stats.distinct >= limits.max_states:
            return "max_states"
        if limits.max_seconds is not None and now - started > limits.max_seconds:
            return "max_seconds"
    stats.queue = 0
    return "exhausted"


def _traces(record: _Search, found: _Found, base: int) -> None:
    """Each finding's trace: its key's path replayed, through the serial trace builder."""
    for prop, (key, _) in found.invariant.items():
        record.violations[prop] = trace_of(record, key, base, None, prop)
    for prop, (key, _, index, _, t) in found.action.items():
        record.violations[prop] = trace_of(record, key, base, (index, t), prop)
    for prop, (key, _) in found.goal.items():
        record.witnesses[prop] = trace_of(record, key, base, None, prop)
    if found.deadlock is not None:
        record.deadlock = trace_of(record, found.deadlock[0], base, None, None)


def trace_of(
    record: _Search, key: int, base: int, last: tuple[int, State] | None, prop: int | None
) -> Trace:
    """The run a key stands for: its initial state, then one action instance per digit."""
    digits = []
    while key >= base:
        key, digit = divmod(key, base)
        digits.append(digit)
    canon, step = record.canon, record.compiled.step
    s0 = record.model.initial[key - 1]
    state = canon(s0) if canon else s0
    record.parent = {state: (None, -1)}
    for index in reversed(digits):
        out: list[tuple[int, State]] = []
        step(state, out, [])
        successor = next(t for i, t in out if i == index)
        successor = canon(successor) if canon else successor
        record.parent.setdefault(successor, (state, index))
        state = successor
    return _trace_to(record, state, last, prop)
