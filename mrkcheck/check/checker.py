"""One way to check a model explicitly, as stateright's ``CheckerBuilder``.

What a check does (symmetry reduction, ``eventually`` properties, deadlocks, limits, progress) is
decided here once, for the command line, the project file, :mod:`mrkcheck.testing` and notebooks::

    result = Checker(model).symmetry().limits(max_states=100_000).run()

A ``Checker`` is a frozen value: each method returns a new one, so a configuration can be shared
and refined without surprises.

Liveness has one rule everywhere. ``eventually`` properties are decided under weak fairness on
the unreduced state graph (fairness is per concrete element, which symmetry reduction merges);
so by default they are checked without symmetry and skipped with it (:attr:`liveness_note` says
why), and ``.liveness(True)`` checks them even with symmetry, on the unreduced graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from mrkcheck import interrupts
from mrkcheck.check.explicit import Limits, Progress, check
from mrkcheck.check.independence import Split, split
from mrkcheck.check.liveness import add_liveness
from mrkcheck.check.result import FIRST_VIOLATION, CheckResult
from mrkcheck.check.stategraph import StateGraph
from mrkcheck.errors import unknown_name
from mrkcheck.lang.model import EVENTUALLY, Model, ModelError

BACKENDS = ("explicit", "vectorised")


@dataclass(frozen=True)
class Checker:
    """How to check ``model``; :meth:`run` does it."""

    model: Model
    symmetric: bool = False
    fair_liveness: bool | None = None  # None: checked unless symmetric (the module's rule)
    find_deadlocks: bool = True
    bounds: Limits = field(default_factory=Limits)
    stop_early: bool = False
    stop_first: bool = False
    show_stats: Progress | None = None
    show_status: Callable[[str], None] | None = None
    phase_prefix: str = ""
    engine: str = "explicit"  # or "vectorised" (see BACKENDS)
    split_independent: bool = True

    # --- configuration ------------------------------------------------------------------------

    def symmetry(self, on: bool = True) -> Checker:
        """Count each class of states equal up to a permutation of symmetric elements once."""
        return replace(self, symmetric=on)

    def liveness(self, on: bool | None = True) -> Checker:
        """Decide ``eventually`` properties (True), skip them (False), or follow the rule (None)."""
        return replace(self, fair_liveness=on)

    def deadlock(self, on: bool = True) -> Checker:
        """Report a reachable state with no successor (that is not a terminal state)."""
        return replace(self, find_deadlocks=on)

    def limits(
        self,
        max_states: int | None = None,
        max_depth: int | None = None,
        max_seconds: float | None = None,
    ) -> Checker:
        """Stop the search there; properties not violated by then are UNKNOWN."""
        return replace(self, bounds=Limits(max_states, max_depth, max_seconds))

    def independence(self, on: bool = True) -> Checker:
        """Check one of the model's independent parts (key sets) and conclude for all
        (:mod:`mrkcheck.check.independence`); False keeps the search of the whole product."""
        return replace(self, split_independent=on)

    def stop_when_all_violated(self, on: bool = True) -> Checker:
        """Stop as soon as every property has a counterexample (a mutant is caught)."""
        return replace(self, stop_early=on)

    def stop_at_first_violation(self, on: bool = True) -> Checker:
        """Stop at the first violated property that is not a documented counterexample, as TLC
        does; the other properties are then UNKNOWN and liveness is not checked."""
        return replace(self, stop_first=on)

    def progress(
        self, stats: Progress | None = None, status: Callable[[str], None] | None = None
    ) -> Checker:
        """Callbacks for the search's statistics and for liveness's status text."""
        return replace(self, show_stats=stats, show_status=status)

    def backend(self, name: str) -> Checker:
        """Which engine does the safety search: ``explicit`` (a state at a time) or
        ``vectorised`` (a level at a time, numpy); same counts, verdicts and traces."""
        if name not in BACKENDS:
            raise ModelError(unknown_name("backend", name, BACKENDS))
        return replace(self, engine=name)

    def phases(self, prefix: str) -> Checker:
        """Name the phases ``"<prefix>safety search"``... (what an interrupt message reports)."""
        return replace(self, phase_prefix=prefix)

    # --- decisions ----------------------------------------------------------------------------

    @property
    def has_liveness(self) -> bool:
        return any(p.kind == EVENTUALLY for p in self.model.properties)

    @property
    def checks_liveness(self) -> bool:
        wanted = not self.symmetric if self.fair_liveness is None else self.fair_liveness
        return wanted and self.has_liveness

    @property
    def liveness_note(self) -> str | None:
        """Why ``eventually`` properties are left UNKNOWN by default, if they are."""
        if self.fair_liveness is None and self.symmetric and self.has_liveness:
            return (
                "liveness needs the unreduced graph: not checked with --symmetry "
                "(--liveness checks it on the unreduced graph)"
            )
        return None

    # --- running ------------------------------------------------------------------------------

    def run(self) -> CheckResult:
        """The safety search, then (per the liveness rule) the ``eventually`` verdicts. Ctrl-C
        or lack of memory keep what was found: ``stopped`` and ``cut_phase`` say where.

        Without symmetry the safety search records the state graph liveness needs as it goes,
        so that liveness does not explore again (either backend); with symmetry liveness explores
        the unreduced graph itself.

        A model whose parts never interact is checked on one part (see ``independence``); the
        reason, or why the model does not split, is in ``result.independence``."""
        found = split(self.model, self.find_deadlocks) if self.split_independent else None
        if isinstance(found, Split):
            whole = replace(self, split_independent=False)
            return found.conclude(lambda part: replace(whole, model=part).run())
        result = self._search()
        if found is not None:
            result.independence = {"applied": False, "reason": f"no independence: {found}"}
        return result

    def _search(self) -> CheckResult:
        record = StateGraph(self.model) if self.checks_liveness and not self.symmetric else None
        interrupts.enter(f"{self.phase_prefix}safety search")
        search: Callable[..., CheckResult] = check
        if self.engine == "vectorised":  # numpy is loaded only when asked for
            from mrkcheck.check import vectorised

            search = vectorised.check
        result = search(
            self.model,
            symmetry=self.symmetric,
            deadlock=self.find_deadlocks,
            limits=self.bounds,
            progress=self.show_stats,
            stop_when_all_violated=self.stop_early,
            record=record,
            stop_at_first_violation=self.stop_first,
        )
        if self.checks_liveness and result.stopped != FIRST_VIOLATION:
            interrupts.enter(f"{self.phase_prefix}liveness")
            add_liveness(result, self.model, progress=self.show_status, graph=record)
        return result
