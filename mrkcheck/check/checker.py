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
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.explicit import Limits, Progress, check
from mrkcheck.check.independence import Split, split
from mrkcheck.check.liveness import add_liveness
from mrkcheck.check.parallel import ProcessTeam, Team, search
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
    processes: int = 1  # partitions of the search (worker processes, or cluster partitions)
    cluster_address: str | None = None  # a Dask scheduler's address, or "local"

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

    def workers(self, count: int = 1) -> Checker:
        """Partition the search over ``count`` processes (:mod:`mrkcheck.check.parallel`)."""
        return replace(self, processes=count)

    def cluster(self, address: str | None) -> Checker:
        """Run the partitioned search on the Dask cluster at ``address`` ("local": a cluster of
        ``workers`` processes started for this run; :mod:`mrkcheck.check.cluster`)."""
        return replace(self, cluster_address=address)

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
        """Why ``eventually`` properties are left UNKNOWN by default, if they are; or that a
        partitioned search leaves liveness its graph to explore again."""
        if self.fair_liveness is None and self.symmetric and self.has_liveness:
            return (
                "liveness needs the unreduced graph: not checked with --symmetry "
                "(--liveness checks it on the unreduced graph)"
            )
        if self.partitioned and self.checks_liveness:
            return (
                "liveness explores the state graph again, in one process: the partitioned "
                "search does not record it (--no-liveness skips liveness)"
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
        if self.partitioned and self.engine != "explicit":
            raise ModelError(
                "--workers and --cluster partition the explicit engine's search: "
                "leave out --backend vectorised, or leave out --workers/--cluster"
            )
        found = split(self.model, self.find_deadlocks) if self.split_independent else None
        if isinstance(found, Split):
            whole = replace(self, split_independent=False)
            return found.conclude(lambda part: replace(whole, model=part).run())
        result = self._search()
        if found is not None:
            result.independence = {"applied": False, "reason": f"no independence: {found}"}
        return result

    @property
    def partitioned(self) -> bool:
        return self.processes > 1 or self.cluster_address is not None

    def _search(self) -> CheckResult:
        recorded = self.checks_liveness and not self.symmetric and not self.partitioned
        record = StateGraph(self.model) if recorded else None
        interrupts.enter(f"{self.phase_prefix}safety search")
        explore: Callable[..., CheckResult] = check
        if self.partitioned:
            explore = self._partitioned_search
        elif self.engine == "vectorised":  # numpy is loaded only when asked for
            from mrkcheck.check import vectorised

            explore = vectorised.check
        result = explore(
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

    def _partitioned_search(self, model: Model, **options: Any) -> CheckResult:
        """The same search, partitioned over processes or a cluster (no graph is recorded:
        liveness explores it again)."""
        del options["record"]
        symmetric, dead, count = self.symmetric, self.find_deadlocks, self.processes
        address = self.cluster_address
        if address is None:
            return search(
                model, lambda prepared: ProcessTeam(model, dead, count, prepared), **options
            )

        def team(_: Any) -> Team:  # the cluster's workers compile the model themselves
            from mrkcheck.check.cluster import DaskTeam

            return DaskTeam(model, symmetric, dead, count, address)

        return search(model, team, engine="cluster", **options)
