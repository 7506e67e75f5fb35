"""Results as data: traces, statistics and per-property verdicts. Printing is the reporters' job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any, Generic, TypeVar

from mrkcheck.errors import clip
from mrkcheck.lang.model import EVENTUALLY, Property, Schema, State, StateView, Verdict

HOLDS, VIOLATED, UNKNOWN = Verdict  # UNKNOWN: the search stopped (limit, interrupt) first

# How a notebook draws a Trace or a CheckResult ("trace_html", "trace_png", "result_html"). The
# viewers live in mrkcheck.traces, which depends on this module and not the other way round: it
# fills this table when imported. Without it a notebook shows the plain repr.
NOTEBOOK_VIEWS: dict[str, Callable[[Any], Any]] = {}

# Exit codes, as TLC's, so CI scripts that know TLC know these.
EXIT_OK = 0
EXIT_DEADLOCK = 11
EXIT_SAFETY = 12
EXIT_LIVENESS = 13
# Ours: a search cut by a limit (--max-states, --max-depth, --max-seconds) before it was complete,
# no violation found: it must not look like a pass to CI (``--allow-incomplete`` accepts it).
EXIT_INCOMPLETE = 15
EXIT_OUT_OF_MEMORY = 16  # the results found before memory ran out are still reported
EXIT_EVALUATION = 75
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)
EXIT_BAD_INPUT = 150
EXIT_INTERNAL = 255

# The first column of a counterexample to induction, where a run would say Init.
CTI_LABEL = "CTI"
CTI_NOTE = (
    "a counterexample to induction: an arbitrary state satisfying the invariant, maybe unreachable"
)

LIMIT_STOPS = ("max_states", "max_depth", "max_seconds")  # how a search cut by a limit stopped
INTERRUPTED, OUT_OF_MEMORY = "interrupted", "out_of_memory"  # how a cut-short search stopped
# A search that stopped because it had found what it needed: every property violated (a caught
# mutant), or the first violation (``mrkcheck check`` without ``--continue``, as TLC).
ALL_VIOLATED, FIRST_VIOLATION = "all_violated", "first_violation"


@dataclass(frozen=True)
class Step:
    """One state of a trace and the action that led to it (``None`` for an initial state)."""

    action: str | None
    params: tuple[tuple[str, str], ...]
    state: State

    @property
    def label(self) -> str:
        if self.action is None:
            return "Init"
        return f"{self.action}({', '.join(f'{k}={v}' for k, v in self.params)})"


@dataclass(repr=False)
class Trace:
    """A run of a model: ``steps[0]`` is initial; ``loop`` is the index a lasso returns to."""

    schema: Schema
    steps: list[Step]
    loop: int | None = None
    model: str = ""
    property_name: str | None = None  # the property the trace violates (None: just a run)
    options: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # how to build the model again (Model.source); empty: ``model`` is a name
    # A counterexample to induction: the first state is an arbitrary one satisfying the
    # induction hypothesis, maybe unreachable, not an initial state.
    cti: bool = False

    def __len__(self) -> int:
        """The number of transitions (so an initial state alone has length 0)."""
        return len(self.steps) - 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (self.steps, self.loop, self.property_name, self.model) == (
            other.steps,
            other.loop,
            other.property_name,
            other.model,
        ) and [v.name for v in self.schema.variables] == [v.name for v in other.schema.variables]

    def label(self, i: int) -> str:
        """What led to step ``i``: ``Init``, the action with its parameters, ``CTI`` for the first
        state of a counterexample to induction, ``step i`` where the file names no action."""
        if i == 0 and self.cti:
            return CTI_LABEL
        if i > 0 and self.steps[i].action is None:
            return f"step {i}"
        return self.steps[i].label

    def __repr__(self) -> str:  # the dataclass repr holds the schema and every state
        kind = "counterexample to induction" if self.cti else "trace"
        what = f", violates {self.property_name}" if self.property_name else ""
        loop = f", loops back to step {self.loop}" if self.loop is not None else ""
        return f"<{kind} of {self.model or '?'}: {len(self)} steps{what}{loop}>"

    def show(self, i: int) -> StateView:
        """Step ``i``'s state, readable (a table of named slots in a notebook)."""
        return StateView(self.schema, self.steps[i].state)

    def evaluate(self, text: str) -> list[str]:
        """The value of an expression (``sum(role[k1, r] == PRIMARY for r in Region)``, syntax in
        :mod:`mrkcheck.lang.query`) in every state of the trace, readable."""
        from mrkcheck.lang.query import evaluate_along, parse_query

        universes = {u.name: u for var in self.schema.variables for u in var.over}
        expr = parse_query(text, self.schema, tuple(universes.values()))
        return evaluate_along(expr, [step.state for step in self.steps], self.schema)

    def states(self) -> list[dict[str, Any]]:
        return [self.schema.decode(step.state) for step in self.steps]

    def changed_slots(self, i: int) -> set[int]:
        """Slots whose value at step ``i`` differs from step ``i - 1`` (none at step 0)."""
        if i == 0:
            return set()
        before, after = self.steps[i - 1].state, self.steps[i].state
        return {k for k, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}

    def changes(self, i: int) -> list[tuple[str, str, str]]:
        """Readable changes at step ``i``: (slot label, old value, new value)."""
        out = []
        for var, idx, slot in self.schema.slots():
            if slot in self.changed_slots(i):
                old = var.domain.show(self.steps[i - 1].state[slot])
                new = var.domain.show(self.steps[i].state[slot])
                out.append((var[idx].label, old, new))
        return out

    def _repr_html_(self) -> str | None:
        view = NOTEBOOK_VIEWS.get("trace_html")
        return None if view is None else view(self)

    def _repr_png_(self) -> bytes | None:
        view = NOTEBOOK_VIEWS.get("trace_png")
        return None if view is None else view(self)


@dataclass
class Stats:
    """TLC-style counts: ``generated`` counts every successor computed, initial states included."""

    distinct: int = 0
    generated: int = 0
    depth: int = 0
    seconds: float = 0.0
    queue: int = 0
    fired: dict[str, int] = field(default_factory=dict)  # successors generated per action
    found: dict[str, int] = field(default_factory=dict)  # new distinct states per action
    levels: list[int] = field(default_factory=list)  # distinct states first seen at each depth

    def as_dict(self) -> dict[str, Any]:
        return {
            "distinct": self.distinct,
            "generated": self.generated,
            "depth": self.depth,
            "seconds": round(self.seconds, 3),
            "queue": self.queue,
            "fired": dict(self.fired),
            "found": dict(self.found),
            "levels": list(self.levels),
        }


@dataclass(repr=False)
class PropertyResult:
    """The verdict on one property (``checked``) and, when violated, its counterexample."""

    checked: Property
    status: Verdict
    trace: Trace | None = None

    @property
    def name(self) -> str:
        return self.checked.name

    def __repr__(self) -> str:
        trace = "" if self.trace is None else f", trace of {len(self.trace)} steps"
        return f"<PropertyResult {self.name}: {self.status}{trace}>"

    def _repr_html_(self) -> str:
        """The verdict and, when violated, the counterexample's view."""
        head = f"<p><b>{escape(self.name)}</b> ({self.checked.kind}): {self.status}</p>"
        view = self.trace._repr_html_() if self.trace is not None else None
        return head + (view or "")

    @property
    def as_expected(self) -> bool:
        """A documented counterexample (expected='violated') counts as expected when found."""
        return self.status == self.checked.expected or self.status == UNKNOWN


# The verdict type an engine gives: bounded model checking gives SymbolicPropertyResult, whose
# describe() the CLI prints; the type follows it through CheckResult to the caller.
R = TypeVar("R", bound=PropertyResult)


@dataclass(repr=False)
class CheckResult(Generic[R]):
    """What a check found: statistics, a verdict per property, and a deadlock if any."""

    model: str
    engine: str
    stats: Stats
    properties: list[R]
    complete: bool
    # exhausted | all_violated | max_states | max_depth | max_seconds | interrupted | out_of_memory
    stopped: str = "exhausted"
    deadlock: Trace | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # Action instances enabled in no reachable state; None when the search cannot tell
    # (stopped early, symmetry reduction, or an engine that does not enumerate states).
    never_enabled: list[str] | None = None
    cut_phase: str = ""  # the phase a limit, an interrupt or lack of memory cut ("liveness"...)
    incomplete_ok: bool = False  # --allow-incomplete: a search cut by a limit may exit 0
    # Independent parts (key sets): one was checked, the counts derived (check/independence.py);
    # or why the model did not split. None when the model has one part.
    independence: dict[str, Any] | None = None

    def __repr__(self) -> str:  # the dataclass repr holds every trace
        verdicts = ", ".join(f"{r.name}={r.status}" for r in self.properties)
        s = self.stats
        return clip(
            f"<CheckResult {self.model} ({self.engine}, {self.stopped}): {s.distinct:,} distinct, "
            f"{s.generated:,} generated, depth {s.depth}; exit code {self.exit_code}; {verdicts}>",
            1000,
        )

    def result(self, name: str) -> R:
        for r in self.properties:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def violations(self) -> list[R]:
        """Properties that failed although they were expected to hold."""
        return [
            r for r in self.properties if r.status == VIOLATED and r.checked.expected != VIOLATED
        ]

    @property
    def cut_by_limit(self) -> bool:
        """Stopped by a limit before the search was complete. Bounded model checking reaching
        its depth answered the question it was asked ("holds up to depth k"): not a cut."""
        if self.engine == "bmc" and self.stopped == "max_depth":
            return False
        return self.stopped in LIMIT_STOPS

    @property
    def exit_code(self) -> int:
        """Interrupted and out of memory first (the run did not finish, whatever it found), then
        what was found, then a cut search: a violation found before a limit is real, but a limit
        reached with none found is not a pass."""
        if self.stopped == INTERRUPTED:
            return EXIT_INTERRUPTED
        if self.stopped == OUT_OF_MEMORY:
            return EXIT_OUT_OF_MEMORY
        if any(r.checked.kind != EVENTUALLY for r in self.violations):
            return EXIT_SAFETY
        if self.violations:
            return EXIT_LIVENESS
        if self.deadlock is not None:
            return EXIT_DEADLOCK
        if self.cut_by_limit and not self.incomplete_ok:
            return EXIT_INCOMPLETE
        return EXIT_OK

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (the ``--json`` output)."""
        return {
            "model": self.model,
            "engine": self.engine,
            "options": self.options,
            "complete": self.complete,
            "stopped": self.stopped,
            "cut_phase": self.cut_phase or None,
            "exit_code": self.exit_code,
            "stats": self.stats.as_dict(),
            "deadlock": None if self.deadlock is None else len(self.deadlock),
            "never_enabled": self.never_enabled,
            "independence": self.independence,
            "properties": [
                {
                    "name": r.name,
                    "kind": r.checked.kind,
                    "rule": r.checked.rule,
                    "expected": r.checked.expected,
                    "status": r.status,
                    "trace_length": None if r.trace is None else len(r.trace),
                }
                for r in self.properties
            ],
        }

    def _repr_html_(self) -> str:
        view = NOTEBOOK_VIEWS.get("result_html")
        if view is not None:
            return view(self)
        rows = "".join(
            f"<tr><td>{r.name}</td><td>{r.status}</td>"
            f"<td>{'' if r.trace is None else len(r.trace)}</td></tr>"
            for r in self.properties
        )
        s = self.stats
        return (
            f"<p><b>{self.model}</b>: {s.distinct:,} distinct, {s.generated:,} generated, "
            f"depth {s.depth}, {s.seconds:.2f}s ({self.stopped})</p>"
            f"<table><tr><th>property</th><th>status</th><th>trace</th></tr>{rows}</table>"
        )
