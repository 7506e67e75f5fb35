"""How ``mrkcheck conform`` generates its scenarios and shrinks what they find: Hypothesis.

A conformance run is a Hypothesis example: a state machine whose rules are the model's API
actions, their preconditions the model's guards (a call is drawn among the instances callable in
the model's current state), the endpoint the system under test. Each call is one draw of
:data:`CALL_DRAWS` integers, read by :func:`choose` and :func:`make_call` as the choices a
random walk made before: whether the call is one the model accepts (``bias``) or refuses, which
action (weighted) and instance, how the key is named (``--key-ref both``), whether a probe is
sent (``probes``) and which.

Why the draws have this shape (each measured, or forced by Hypothesis):

- *Fixed bounds and a fixed number*: every integer in 0..99, ``length`` calls per example (a
  run that deadlocks or meets a dead endpoint draws the rest without using them). What an
  endpoint answers decides the model's next state, and Hypothesis stops with "inconsistent data
  generation" when replaying a choice sequence draws differently; a real endpoint is not
  perfectly repeatable (creation completes after a few seconds, or not yet).
- *Whitened* (:func:`_whiten`): Hypothesis's integers are not independent uniform draws, and
  read as they come they cost coverage; hashed with the seed, the example's number and the
  call's position, they are.
- *Probabilities in hundredths*, picks by weighted rendezvous hashing of two digits.

Generation (:meth:`Search.generate`): ``max_examples = runs`` examples under ``@seed(--seed)``,
no database, no deadline, none failing (every divergence is recorded and the run goes on), the
raw draws of each kept. Shrinking one distinct divergence (:meth:`Search.shrink`): the same
search again, same seed and settings; the examples before the one that first showed it are
replayed as draws only (no endpoint call; Hypothesis sees the same draws, so it generates the
same next example, which is checked); that example is run on the endpoint up to the first
divergence with this signature and fails; Hypothesis's shrinker then replays candidates on the
endpoint (each from fresh keys), at most ``budget`` of them, each stopping at its divergence or
after as many calls as the best so far. Measured, the shrinker spends its first hundreds of
replays making draws smaller at the same length, and real endpoints are slow: so it gets none
by default (``--hypothesis-replays N`` gives it N; conform.shrink_one has the figures), and the
calls on the divergent key set of the reproduced (or best) run are then delta-debugged
(conform.Driver.shrink).

Reproducible: the same seed against an endpoint that answers the same calls the same way gives
the same runs, findings and shortest sequences.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mrkcheck.check.simulate import search_settings
from mrkcheck.lang.model import ActionInstance, State
from mrkcheck.model.conformance import model_bound, probes_for
from mrkcheck.traces.conform_endpoint import Call, EndpointError
from mrkcheck.traces.conform_report import Settings, Signature

if TYPE_CHECKING:
    from mrkcheck.traces.conform import Driver, Run

# How often an accepted call of each action is drawn, relative to 1: the operations whose
# multi-Region semantics the model is about come up more often.
WEIGHTS = {
    "ReplicateKey": 4,
    "UpdatePrimaryRegion": 3,
    "ScheduleKeyDeletion": 2,
    "CancelKeyDeletion": 2,
    "Encrypt": 2,  # so that Decrypt has ciphertext to work on
}
DIGIT = 100  # each draw is an integer in 0..99
# The positions of one call's draws: refused?, action (2 digits), instance (2), key reference,
# probe?, which probe.
REFUSED, ACTION, INSTANCE, REF, PROBE, WHICH = 0, 1, 3, 5, 6, 7
CALL_DRAWS = 8
T = TypeVar("T")


@dataclass(frozen=True)
class CallDraw:
    """The draws behind one call, read as the choices :func:`choose` and :func:`make_call` make."""

    values: tuple[int, ...]

    def chance(self, at: int, p: float) -> bool:
        """True with probability ``p`` (to the hundredth); 0, where the shrinker goes, is False."""
        return self.values[at] >= DIGIT - round(p * DIGIT)

    def pick(
        self, at: int, options: Sequence[T], label: Callable[[T], str], weight: Callable[[T], int]
    ) -> T:
        """One of ``options``, each with probability proportional to its weight: weighted
        rendezvous hashing of the two digits at ``at`` with each option's label, so a call's
        choice depends on which options there are, not on their order."""
        number = self.values[at] * DIGIT + self.values[at + 1]
        return max(options, key=lambda o: _score(number, label(o), weight(o)))

    def pick_one(self, at: int, options: Sequence[Any]) -> Any:
        return options[self.values[at] % len(options)]


def choose(
    draw: CallDraw, candidates: list[ActionInstance], state: State, bias: float
) -> ActionInstance | None:
    """Pick a call the model accepts (with probability ``bias``) or one it refuses.

    An accepted call: an action drawn by WEIGHTS (the multi-Region operations more often), then
    an instance. A refused call: a (action, refusal reason) pair drawn uniformly, then an
    instance; so wide actions (ReplicateKey has Regions^2 instances) do not crowd out the rest,
    and a rare reason (a second replica into one Region) is tried as often as a common one.
    Calls that mean nothing on the wire (a guard that names no exception, the model's version
    bound) are never picked: that is the rules' precondition."""
    refusals = [(i, i.refusal(state)) for i in candidates]
    callable_ = [(i, g) for i, g in refusals if g is None or (g.error and not model_bound(g))]
    accepted = [i for i, g in callable_ if g is None]
    refused = [(i, g) for i, g in callable_ if g is not None]
    if accepted and (not refused or not draw.chance(REFUSED, 1 - bias)):
        names = list(dict.fromkeys(i.action for i in accepted))
        name = draw.pick(ACTION, names, str, lambda n: WEIGHTS.get(n, 1))
        return draw.pick(INSTANCE, [i for i in accepted if i.action == name], _label, _one)
    if not refused:
        return None
    reasons = list(dict.fromkeys((i.action, g.identity) for i, g in refused))
    reason = draw.pick(ACTION, reasons, repr, _one)
    same = [i for i, g in refused if (i.action, g.identity) == reason]
    return draw.pick(INSTANCE, same, _label, _one)


def _label(inst: ActionInstance) -> str:
    return inst.label


def make_call(draw: CallDraw, inst: ActionInstance, settings: Settings) -> Call:
    """The wire form of a model call: how the key is named, and (with probability
    ``settings.probes``) one input in a documented invalid or optional form."""
    ref = settings.key_ref if settings.key_ref != "both" else draw.pick_one(REF, ("arn", "id"))
    probes = probes_for(inst.action)
    probe = (
        draw.pick_one(WHICH, probes).name if probes and draw.chance(PROBE, settings.probes) else ""
    )
    return Call(inst.action, inst.params, ref, probe)


class Draws:
    """The calls' draws of one example, from Hypothesis's ``data``, recorded as they are made."""

    def __init__(self, data: Any, example: int, seed: int) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.example = example  # the example's number in the search; its shrinks keep it
        self.seed = seed
        self.strategy = st.tuples(*[st.integers(0, DIGIT - 1)] * CALL_DRAWS)
        self.record: list[tuple[int, ...]] = []

    def next(self) -> CallDraw:
        return CallDraw(_whiten(self._draw(), (self.seed, self.example, len(self.record))))

    def _draw(self) -> tuple[int, ...]:
        values = self.data.draw(self.strategy)
        self.record.append(values)
        return values

    def finish(self, length: int) -> None:
        """Draw the calls a run did not make, so that every example has the same shape."""
        while len(self.record) < length:
            self._draw()

    def replay(self, recorded: Sequence[tuple[int, ...]]) -> bool:
        """Draw as an earlier example did; False if Hypothesis gave other values (out of step)."""
        drawn = [self._draw() for _ in recorded]
        return drawn == list(recorded)


def _whiten(values: tuple[int, ...], where: tuple[int, int, int]) -> tuple[int, ...]:
    """The draws as the call reads them: hashed with the seed, the example's number and the
    call's position (``where``). Hypothesis draws small integers almost uniformly, but about one
    in ten is 0 (its simplest example, its constants), it copies a call's draws to other
    positions and an example's to the next examples (mutations). Read as they come, those made
    the same calls again and again: the coverage table missed 9 documented outcomes on average
    where independent uniform draws missed 2 (3 Regions x 2 key sets, both origins, 20 runs x
    40 calls, seeds 0-3). Hashed, they read as uniform, and Hypothesis's first example (all
    zeros whatever the seed) differs with the seed. Shrinking candidates keep their example's
    number."""
    digest = hashlib.blake2b(repr((where, values)).encode(), digest_size=16).digest()
    number, out = int.from_bytes(digest, "big"), []
    for _ in values:
        number, digit = divmod(number, DIGIT)
        out.append(digit)
    return tuple(out)


def _score(number: int, label: str, weight: int) -> float:
    """``u ** (1 / weight)`` for a uniform ``u`` hashed from the draw and the label, as a key:
    the largest wins with probability weight / total weight."""
    digest = hashlib.blake2b(f"{number}/{label}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 0.5) / 2**64
    return -weight / math.log(u)


def _one(_: object) -> int:
    return 1


class _Reproduced(Exception):
    """Raised in an example that shows the divergence looked for: Hypothesis shrinks it."""


@dataclass
class _Shrinking:
    """One divergence's search: where it is, and the shortest reproduction so far."""

    examples: int = 0
    replays: int = 0
    shrinking: bool = False
    best: Run | None = None
    calls: list[Call] = field(default_factory=list)


class Search:
    """The Hypothesis searches of one conformance session on one endpoint (see the module)."""

    def __init__(self, driver: Driver, settings: Settings) -> None:
        self.driver = driver
        self.settings = settings
        self.records: list[list[tuple[int, ...]]] = []  # per example: its calls' draws
        self.error: EndpointError | None = None

    def generate(self, on_run: Callable[[int, Run], None]) -> None:
        """``runs`` examples, each a run on the endpoint handed to ``on_run``; none fails."""
        from hypothesis import given
        from hypothesis import strategies as st

        s = self.settings

        @search_settings(s.runs, s.seed, shrink=False)
        @given(st.data())
        def scenario(data: Any) -> None:
            number = len(self.records)
            draws = Draws(data, number, s.seed)
            self.records.append(draws.record)
            try:
                if self.error is None:
                    run = self.driver.run(f"{number:03d}", s, draws=draws, number=number)
            except EndpointError as exc:  # ends the session; not a failure to shrink
                self.error = exc
            draws.finish(s.length)  # every example the same shape, whatever the endpoint did
            if self.error is None:
                on_run(number, run)

        scenario()
        if self.error is not None:
            raise self.error

    def shrink(self, sig: Signature, first: int, budget: int) -> tuple[list[Call], Run | None, int]:
        """The calls on the divergent key set of the shortest run found that shows ``sig``, that
        run (None if example ``first`` did not show it again), and the replays spent (at most
        ``budget``)."""
        from hypothesis import given
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky

        s, state = self.settings, _Shrinking()

        @search_settings(s.runs, s.seed, shrink=budget > 0)
        @given(st.data())
        def scenario(data: Any) -> None:
            draws = Draws(data, first, s.seed)
            if not state.shrinking:
                number, state.examples = state.examples, state.examples + 1
                if number != first:  # the same draws, so Hypothesis goes on as it did
                    draws.replay(self.records[number] if number < len(self.records) else [])
                    return
            elif state.replays > budget or self.error is not None:
                return
            state.replays += 1  # the reproduction, then at most ``budget`` candidates
            limit = len(state.best.made) if state.best is not None else None
            try:
                run = self.driver.run("shrink", s, draws=draws, stop_on=sig, limit=limit)
            except EndpointError as exc:
                self.error = exc
                return
            if run.found is None:
                return
            if state.best is None or len(run.made) <= len(state.best.made):
                # The calls on the divergent key set: other sets' calls cannot matter.
                state.best, state.calls = run, list(run.histories[-1])
            state.shrinking = True
            raise _Reproduced

        with contextlib.suppress(_Reproduced, Flaky):  # Flaky: a final replay past the budget
            scenario()
        if self.error is not None:
            raise self.error
        return state.calls, state.best, state.replays
