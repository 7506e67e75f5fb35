"""``mrkcheck conform``: drive a KMS implementation through model-generated scenarios.

Each run is a Hypothesis example over the model's API actions, each call drawn among those the
model's state makes callable (:mod:`mrkcheck.traces.conform_search`; seeded: ``--seed``), or
the API steps of a given ITF trace. Every call is made on the endpoint too, and three things are
compared:

1. the outcome: success where the model predicts success, else the predicted exception (with the
   leniency §4 and §6 allow: DisabledException for the X2/3 cells, any failing guard's error when
   the model's ``guard_order`` is ``any``);
2. the response fields §3 documents (a new key's state and type; Decrypt's plaintext);
3. after the call, DescribeKey of every key of every created key set in every Region: each must
   be one of the views :func:`mrkcheck.model.observe.describe_key` allows, in the model's state
   *after some sequence of environment steps* (the endpoint completes those by itself).

By default a call the documents leave open is accepted in every documented reading (any failing
guard's error, Q16; a state exception or success where only an inferred §4 row refuses; stale
``ReplicaKeys``/``PrimaryKey`` of other keys, §6) and the reading the endpoint chose is counted;
``strict`` keeps one prediction per call. Some calls send one input in a documented invalid or
optional form (a *probe*: malformed ARNs, another Region's ARN, bad Region names, deletion
windows at and beyond the bounds, ReplicateKey's optional parameters).

When the endpoint does something the model cannot follow (accepts a call the model refuses and
shows keys no state explains), the run *resynchronises*: that key set is retired (its slots back
to "never created", its ARN forgotten) and the walk goes on with a fresh key set in its place, so
one early bug does not hide the rest. A divergence only in what DescribeKey *displays* (type,
primary, replica list) keeps the key set, from the closest state the model allows.

Each distinct divergence is then shrunk to the shortest call sequence found that reproduces it on
the same endpoint (Hypothesis re-finds it with the same seed, its shrinker given
``--hypothesis-replays`` candidates, none by default; then greedy delta debugging drops calls; a
trace file's calls by delta debugging alone; each candidate replayed from scratch) and written
as an ITF trace of the model's run with the divergent call and the endpoint's answer in
``#meta``; replaying that file (``--trace``) reproduces the divergence. Rules and findings:
docs/conformance.md.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.result import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OUT_OF_MEMORY
from mrkcheck.lang.model import (
    ActionInstance,
    Model,
    ModelError,
    State,
)
from mrkcheck.lang.scenario import Scenario
from mrkcheck.model.conformance import (
    PROBE_BY_NAME,
    QUOTA_ERRORS,
    RESPONSE_RULES,
    SECTION,
    VISIBLE_ENVIRONMENT,
    accepted_errors,
    documented_outcomes,
    expected_response,
    lenient_errors,
    model_bound,
    retire_key_set,
    rotation_status,
    success_is_a_reading,
)
from mrkcheck.model.observe import describe_key
from mrkcheck.registry import find_mutant, load_factory
from mrkcheck.traces.conform_endpoint import (
    DRIVEN,
    PAGE,
    POLICY_SENT,
    REPLICA_DESCRIPTION,
    REPLICA_TAGS,
    Call,
    Endpoint,
    EndpointError,
    Outcome,
    boto3_clients,
    check_reachable,
    view_of,
)
from mrkcheck.traces.conform_fake import EAGER, model_clients
from mrkcheck.traces.conform_report import (
    EXIT_DIVERGENCE,
    KINDS,
    Divergence,
    Report,
    RunResult,
    Settings,
    Signature,
)
from mrkcheck.traces.conform_search import Draws, Search, choose, make_call
from mrkcheck.traces.itf import (
    TraceFormatError,
    load_json,
    pretty_json,
    read_header,
    read_text,
    to_itf,
)

__all__ = ["EXIT_DIVERGENCE", "KINDS", "Divergence", "Report", "RunResult", "Settings"]
MAX_EXPLAIN_STATES = 5000
POLL_SECONDS = 0.5
MAX_SHRINK_REPLAYS = 40  # replays spent dropping calls of one finding (delta debugging)
# Calls after which GetKeyRotationStatus is read on every key of the set (§2: the flag is shared;
# a replica shows the primary's once a Sync has run; §6: false while pending deletion).
ROTATION_READ_AFTER = (
    "EnableKeyRotation",
    "DisableKeyRotation",
    "ReplicateKey",
    "CancelKeyDeletion",
)
# The DescribeKey fields that only display membership: a divergence in them alone keeps the key
# set (the model's state still predicts every call), one in KeyState or existence retires it.
DISPLAY_FIELDS = frozenset({"MultiRegionKeyType", "PrimaryRegion", "ReplicaRegions", "Enabled"})
REGION_PROBES = frozenset({"malformed-region", "unknown-region"})  # a ReplicaRegion the model lacks
MEMBERSHIP = ("PrimaryRegion", "ReplicaRegions")  # §6: eventually consistent in other keys


# --- the model side ---------------------------------------------------------------------------------


def conform_model(settings: Settings, builder: Callable[..., Model] | None = None) -> Model:
    """The instance the scenarios come from. ``max_versions`` is raised to 5: the model's bound on
    rotations is not the API's quota, and calls refused only by the bound are never made.
    Built once per instance (models are immutable; every run and replay shares it)."""
    return _build(settings.regions, settings.key_sets, settings.origins, settings.choices, builder)


@functools.lru_cache(maxsize=32)
def _build(
    regions: str,
    key_sets: int,
    origins: str,
    choices: tuple[tuple[str, Any], ...],
    builder: Callable[..., Model] | None,
) -> Model:
    options = dict(choices)
    options.setdefault("max_versions", 5)
    return (builder or load_factory("kms"))(
        regions=regions, key_sets=key_sets, origins=origins, with_properties=False, **options
    )


def api_instances(model: Model, skip: Sequence[str]) -> list[ActionInstance]:
    """The action instances the runner may call, in the model's (deterministic) order."""
    unknown = sorted(set(skip) - set(model.action_names))
    if unknown:
        raise ModelError(f"--skip {unknown[0]}: not an action of the model")
    return [
        i
        for i in model.instances
        if not i.environment and i.action in DRIVEN and i.action not in skip
    ]


def is_callable(inst: ActionInstance, state: State) -> bool:
    """Whether the call means something on the wire: not refused by a guard that names no
    exception (a fresh key ID; a ciphertext to decrypt), nor only by the model's version bound."""
    guard = inst.refusal(state)
    if guard is None:
        return True
    return guard.error is not None and not model_bound(guard)


def allowed_views(model: Model, state: State, key_set: str, region: str) -> list[dict[str, Any]]:
    return [view_of(v) for v in describe_key(model, state, key_set, region)]


def mismatches(
    model: Model,
    state: State,
    observed: Mapping[tuple[str, str], dict[str, Any] | None],
    s: str,
    previous: State | None = None,
) -> list[tuple[str, str]]:
    """The keys of set ``s`` whose observed view the model does not allow in ``state``. With
    ``previous`` (the state before the last call), a view whose membership fields are still
    those of ``previous`` is allowed too (§6: eventually consistent ReplicaKeys/PrimaryKey)."""
    return [
        (key_set, region)
        for (key_set, region), seen in observed.items()
        if key_set == s and not view_allowed(model, state, key_set, region, seen, previous)
    ]


def view_allowed(
    model: Model,
    state: State,
    key_set: str,
    region: str,
    seen: dict[str, Any] | None,
    previous: State | None = None,
) -> bool:
    allowed = allowed_views(model, state, key_set, region)
    if seen is None or not allowed:
        return seen is None and not allowed
    if seen in allowed:
        return True
    return previous is not None and lagging(
        seen, allowed, previous_views(model, previous, key_set, region)
    )


def previous_views(model: Model, previous: State, key_set: str, region: str) -> list[dict]:
    return allowed_views(model, previous, key_set, region)


def lagging(seen: dict[str, Any], allowed: list[dict], before: list[dict]) -> bool:
    """``seen`` is an allowed view whose membership fields lag: they are those of a view of the
    state before the call (§6 eventual consistency)."""
    for view in allowed:
        for old in before:
            if seen == {**view, **{f: old[f] for f in MEMBERSHIP}}:
                return True
    return False


def explain(
    model: Model,
    state: State,
    observed: Mapping[tuple[str, str], dict[str, Any] | None],
    s: str,
    previous: State | None = None,
) -> list[ActionInstance] | None:
    """The shortest sequence of visible environment steps of set ``s`` after which every key of
    ``s`` looks as observed, or None. Steps of different sets touch disjoint variables, so each
    set is explained on its own (a small search)."""
    steps = [
        i
        for i in model.instances
        if i.environment and i.action in VISIBLE_ENVIRONMENT and i.param("s") == s
    ]
    queue: deque[tuple[State, list[ActionInstance]]] = deque([(state, [])])
    seen = {state}
    while queue and len(seen) <= MAX_EXPLAIN_STATES:
        current, path = queue.popleft()
        if not mismatches(model, current, observed, s, previous):
            return path
        for inst in steps:
            if inst.refusal(current) is None:
                nxt = inst.apply(current)
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append((nxt, [*path, inst]))
    return None


def environment_closure(model: Model, state: State, s: str) -> list[State]:
    """Every state the visible environment steps of set ``s`` reach from ``state`` (BFS order)."""
    steps = [
        i
        for i in model.instances
        if i.environment and i.action in VISIBLE_ENVIRONMENT and i.param("s") == s
    ]
    order, seen = [state], {state}
    for current in order:
        if len(order) > MAX_EXPLAIN_STATES:
            break
        for inst in steps:
            if inst.refusal(current) is None and (nxt := inst.apply(current)) not in seen:
                seen.add(nxt)
                order.append(nxt)
    return order


def differing_fields(allowed: list[dict[str, Any]], seen: dict[str, Any] | None) -> set[str]:
    """The fields in which ``seen`` differs from the closest allowed view ("exists" if one side
    has no key at all)."""
    if not allowed or seen is None or "DescribeKeyError" in seen:
        return {"exists"} if seen is None or not allowed else {"DescribeKeyError"}
    diffs = [{k for k in v if v[k] != seen.get(k)} for v in allowed]
    return min(diffs, key=lambda d: (len(d), sorted(d)))


Candidates = list[tuple[State, list[tuple[str, str]]]]


def candidates(
    model: Model,
    closure: list[State],
    observed: Mapping[tuple[str, str], dict[str, Any] | None],
    s: str,
) -> Candidates:
    """Each state of ``closure`` (:func:`environment_closure`: BFS order, the current state
    first), with the keys of ``s`` that look wrong in it."""
    return [(st, mismatches(model, st, observed, s)) for st in closure]


def closest(states: Candidates) -> tuple[State, list[tuple[str, str]]]:
    """The candidate in which the fewest keys look wrong (the first such in BFS order), and
    those keys: the keys a divergence names."""
    return min(states, key=lambda candidate: len(candidate[1]))


def follow(
    model: Model, states: Candidates, observed: Mapping[tuple[str, str], dict[str, Any] | None]
) -> State | None:
    """Where a run can go on from after an observation divergence: the closest candidate that
    shows every key as observed but for fields DescribeKey only displays, or None. A state that
    differs in a key's state or existence would turn the endpoint's next right answer into a
    false alarm (a replica the endpoint still has, predicted NotFound)."""
    shown = [
        (st, bad)
        for st, bad in states
        if all(
            differing_fields(allowed_views(model, st, *k), observed[k]) <= DISPLAY_FIELDS
            for k in bad
        )
    ]
    return closest(shown)[0] if shown else None


# --- one run ----------------------------------------------------------------------------------------


class Run:
    """One scenario driven on the endpoint: the model's scenario, what was called, what diverged.

    ``stop_on``: replaying a candidate sequence while shrinking, stop at the first divergence
    with this signature (before any resynchronisation), so the model's trace ends there."""

    def __init__(
        self,
        model: Model,
        endpoint: Endpoint,
        run_id: str,
        settings: Settings,
        stop_on: Signature | None = None,
    ) -> None:
        self.model = model
        self.endpoint = endpoint
        self.run_id = run_id
        self.settings = settings
        self.scenario = Scenario(model)
        self.calls = 0
        self.made: list[Call] = []  # every call made, in order
        self.divergences: list[Divergence] = []
        self.stopped = ""
        self.stop_on = stop_on
        self.found: Divergence | None = None
        self.retired = 0
        self.history: dict[str, list[Call]] = {}  # key set -> calls on it since its creation
        self.histories: list[list[Call]] = []  # per divergence: the calls that led to it
        self.coverage: Counter[tuple[str, str]] = Counter()
        self.readings: Counter[tuple[str, str]] = Counter()
        self.previous: State | None = None
        self.current: Call | None = None
        self.drifted = False  # the endpoint accepted a call the model refused: expect new views
        # Per key: the values the primary's rotation flag has had since that key last showed
        # it (a replica may take any of them at a Sync the runner did not see).
        self.flags_since: dict[tuple[str, str], set[bool]] = {}

    @property
    def index(self) -> int:
        return len(self.scenario.steps) - 1

    def diverge(
        self,
        call: Call,
        kind: str,
        predicted: dict,
        seen: dict,
        rule: str = "",
        key_set: str | None = None,
    ) -> bool:
        """Record a divergence (about ``key_set``, by default the call's); False when a replay
        found the one it looks for (stop here)."""
        d = Divergence(
            self.run_id, self.calls, call.model_label, kind, predicted, seen, self.index, rule,
            call.as_dict(),
        )  # fmt: skip
        self.divergences.append(d)
        self.histories.append(list(self.history.get(key_set or call.param("s"), [])))
        if self.stop_on is not None and d.signature() == self.stop_on:
            self.found = d
            self.stopped = "divergence"
            return False
        return True

    # -- one call --

    def step(self, call: Call) -> bool:
        """Make one call on both sides and compare; False when a replay found its divergence."""
        self.calls += 1
        self.made.append(call)
        self.current = call
        s = call.param("s")
        self.history.setdefault(s, []).append(call)
        inst = self.model.instance(call.model_label)
        self.previous = self.scenario.state
        outcome = self.endpoint.call(call)
        errors, success = self.expectation(inst, call)
        self.coverage[(call.action, errors[0] if errors and not success else "success")] += 1
        if outcome.not_implemented:
            return self.diverge(
                call, "not implemented", _predicted(errors, success), outcome.as_dict(),
                SECTION.get(call.action, ""),
            )  # fmt: skip
        if outcome.error is None:
            return self._accepted(inst, call, outcome, success)
        return self._refused(inst, call, outcome, errors, success)

    def expectation(self, inst: ActionInstance, call: Call) -> tuple[tuple[str, ...], bool]:
        """The errors a conformant endpoint may answer (first: the predicted one) and whether
        success is predicted. A probe's own errors come first (§3: validation, then the key)."""
        state = self.scenario.state
        probe = PROBE_BY_NAME.get(call.probe)
        refused = inst.refusal(state) is not None
        if refused:
            model_errors = (
                accepted_errors(self.model, inst, state)
                if self.settings.strict
                else lenient_errors(self.model, inst, state)
            )
        else:
            model_errors = ()
        if probe is not None and probe.errors:
            if probe.name == "single-region-key":
                return probe.errors, False
            extra = () if self.settings.strict else model_errors
            return tuple(dict.fromkeys(probe.errors + extra)), False
        return model_errors, not refused

    def _accepted(self, inst: ActionInstance, call: Call, outcome: Outcome, success: bool) -> bool:
        state = self.scenario.state
        if success:
            self.scenario.call(inst.action, **dict(inst.params))
            if not self._check_response(inst, call, outcome):
                return False
            return self.reconcile(call)
        if not self.settings.strict and not call.probe and success_is_a_reading(inst, state):
            self.readings[
                ("§4 [I] " + inst.action + " row", f"success in {self._key_state(call)}")
            ] += 1
            self._adopt(inst)
            return self.reconcile(call)
        errors, _ = self.expectation(inst, call)
        guard = inst.refusal(state)
        rule = self._rule(call, guard)
        if not self.diverge(call, "error", _predicted(errors, False), outcome.as_dict(), rule):
            return False
        self.drifted = guard is not None
        if guard is None and call.probe in REGION_PROBES:
            # A replica in a Region the model does not have (or a claim of one): the set can
            # no longer be followed.
            self.retire(call.param("s"))
            return True
        if guard is None and call.probe != "single-region-key":
            # Only the probe's input should have refused it: the endpoint did what the call
            # asks (e.g. scheduled deletion with a 31-day window), and so does the model.
            self.scenario.call(inst.action, **dict(inst.params))
        return self.reconcile(call)

    def _refused(
        self,
        inst: ActionInstance,
        call: Call,
        outcome: Outcome,
        errors: tuple[str, ...],
        success: bool,
    ) -> bool:
        if success and not self.settings.strict and QUOTA_ERRORS.get(call.action) == outcome.error:
            self.readings[
                (f"{SECTION[call.action]} quota (Q15)", f"{call.action}: {outcome.error}")
            ] += 1
            return self.reconcile(call)
        if success:  # the endpoint changed nothing, so neither does the model
            rule = f"{SECTION.get(call.action, '§3')}: every guard of {call.action} holds"
            if not self.diverge(call, "error", {"result": "success"}, outcome.as_dict(), rule):
                return False
            return self.reconcile(call)
        if outcome.error in errors:
            if outcome.error != errors[0]:
                self.readings[self._reading_rule(inst, call, outcome.error)] += 1
            return self.reconcile(call)
        guard = inst.refusal(self.scenario.state)
        rule = self._rule(call, guard)
        if not self.diverge(call, "error", _predicted(errors, False), outcome.as_dict(), rule):
            return False
        return self.reconcile(call)

    def _rule(self, call: Call, guard: Any) -> str:
        """The rule behind a refusal: the probe's when its input is what should be refused,
        else the first failing guard's."""
        probe = PROBE_BY_NAME.get(call.probe)
        if probe is not None and probe.errors:
            return probe.rule
        return guard.doc if guard is not None else ""

    def _reading_rule(self, inst: ActionInstance, call: Call, chosen: str) -> tuple[str, str]:
        """Which documented choice an accepted alternative error is (for the report)."""
        state = self.scenario.state
        failing = inst.failing_guards(state)
        if call.probe:
            return (PROBE_BY_NAME[call.probe].rule, chosen)
        if len(failing) > 1 and chosen in [g.error for g in failing[1:]]:
            first = failing[0].error
            return ("Q16 guard order", f"{call.action}: {chosen} before {first}")
        if chosen == "DisabledException":
            return ("§4 X2/3", f"{call.action}: DisabledException")
        return (f"§4 [I] {call.action} row", f"{chosen} in {self._key_state(call)}")

    def _key_state(self, call: Call) -> str:
        return self.scenario.value("key_state", call.param("s"), call.param("r"))

    def _adopt(self, inst: ActionInstance) -> None:
        """Follow an endpoint that took a documented reading the model's guards refuse: apply
        the call's effects (the scenario's steps stay a record of what happened)."""
        try:
            nxt = inst.apply(self.scenario.state)
        except Exception:  # an effect out of the model's bounds: keep the state
            return
        if all(var.domain.contains(nxt[slot]) for var, _, slot in self.model.schema.slots()):
            self.scenario.state = nxt

    def _check_response(self, inst: ActionInstance, call: Call, outcome: Outcome) -> bool:
        wanted = expected_response(self.model, self.scenario, inst)
        if call.action == "ReplicateKey":
            params = call.probe == "params"
            wanted["Description"] = [REPLICA_DESCRIPTION if params else ""]
            tags = REPLICA_TAGS if params else []
            wanted["ReplicaTags"] = [sorted((t["TagKey"], t["TagValue"]) for t in tags)]
            if params:
                wanted["ReplicaPolicy"] = [POLICY_SENT]
        wrong = {
            k: v
            for k, v in wanted.items()
            if k in outcome.response and outcome.response[k] not in v
        }
        for k in sorted(wrong):  # one finding per field: each is its own documented rule
            v = wanted[k]
            predicted = {k: v if len(v) > 1 else v[0]}
            rule = RESPONSE_RULES.get(k, k)
            if not self.diverge(call, "response", predicted, {k: outcome.response[k]}, rule):
                return False
        return True

    # -- observation --

    def observe(self) -> dict[tuple[str, str], dict[str, Any] | None]:
        regions = self.model.universe("Region").elements
        return {
            (s, r): self.endpoint.describe(s, r)
            for s in self.model.universe("KeySet").elements
            if s in self.endpoint.arns
            for r in regions
        }

    def reconcile(self, call: Call) -> bool:
        """Let the model take the environment steps the endpoint's keys show (polling up to
        ``settle`` seconds). What nothing explains is an observation divergence, after which the
        run resynchronises. False when a replay found its divergence."""
        previous = None if self.settings.strict else self.previous
        deadline = time.monotonic() + self.settings.settle
        while True:
            observed = self.observe()
            sets = sorted({s for s, _ in observed})
            paths = {
                s: explain(self.model, self.scenario.state, observed, s, previous) for s in sets
            }
            unexplained = [s for s in sets if paths[s] is None]
            if not unexplained or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        for s in sets:
            for step in paths[s] or []:
                self.scenario.call(step.action, **dict(step.params))
        if previous is not None and any(paths[s] is not None for s in sets):
            self._count_lag(observed, [s for s in sets if paths[s] is not None])
        drifted, self.drifted = self.drifted, False
        for s in unexplained:
            if drifted and s == call.param("s"):
                self.retire(s)  # the error divergence above already says why
            elif not self._observation_divergence(call, observed, s):
                return False
        if call.action == "ReplicateKey" and call.param("s") in self.endpoint.arns:
            self.flags_since[(call.param("s"), call.param("replica"))] = set()  # S16
        self._note_flags()
        return self._read_rotation(call)

    def _count_lag(self, observed: Mapping[tuple[str, str], Any], sets: list[str]) -> None:
        state = self.scenario.state
        for s in sets:
            if any(
                observed[k] is not None and observed[k] not in allowed_views(self.model, state, *k)
                for k in observed
                if k[0] == s
            ):
                self.readings[("§6 eventual consistency", "stale ReplicaKeys/PrimaryKey")] += 1

    def _observation_divergence(
        self, call: Call, observed: Mapping[tuple[str, str], Any], s: str
    ) -> bool:
        """Name the keys of ``s`` that look wrong, with every view the model allows for them in
        any state its environment steps reach from here, and the fields that differ; then go on
        from a state that differs only in what DescribeKey displays (:func:`follow`), or retire
        the set when none does."""
        closure = environment_closure(self.model, self.scenario.state, s)
        allowed = self._reachable_views(s, closure)
        keys = [k for k in allowed if observed[k] is not None and observed[k] not in allowed[k]]
        keys += [k for k in allowed if observed[k] is None and not self._may_be_gone(k, closure)]
        states = candidates(self.model, closure, observed, s)
        keys = sorted(keys or closest(states)[1])
        predicted: dict[str, Any] = {}
        fields: set[str] = set()
        for key in keys:
            predicted[f"{key[0]}@{key[1]}"] = allowed[key] or "NotFound"
            fields |= differing_fields(allowed[key], observed[key])
        seen = {f"{k[0]}@{k[1]}": observed[k] or "NotFound" for k in keys}
        # Each key alone may look as some state allows while no one state explains them all.
        rule = "differs: " + (",".join(sorted(fields)) or "the combination") + " (§3.11, §6)"
        if not self.diverge(call, "observation", predicted, seen, rule, key_set=s):
            return False
        followed = follow(self.model, states, observed)
        if followed is not None:
            self.scenario.state = followed
        else:
            self.retire(s)
        return True

    def _read_rotation(self, call: Call) -> bool:
        """GetKeyRotationStatus on every key of the set after a call that changes or copies the
        shared rotation flag (§2, §3.7); an answer no reading allows is an observation
        divergence (the model's state is kept: no prediction depends on the flag's copy)."""
        s = call.param("s")
        if call.action not in ROTATION_READ_AFTER or s not in self.endpoint.arns:
            return True
        for r in self.model.universe("Region").elements:
            allowed = rotation_status(self.model, self.scenario.state, s, r)
            if isinstance(allowed, list):
                allowed = sorted(set(allowed) | self.flags_since.get((s, r), set()))
            outcome = self.endpoint.rotation_status(s, r)
            if outcome.not_implemented:
                return self.diverge(
                    call, "not implemented", {"result": "success"}, outcome.as_dict(), "§3.7"
                )
            seen: Any = outcome.error or outcome.response.get("RotationEnabled")
            if allowed is None:
                expected: Any = ["NotFoundException"]
            elif isinstance(allowed, str):
                expected = [allowed]
            else:
                expected = list(allowed)
            self.coverage[("GetKeyRotationStatus", _outcome_name(allowed))] += 1
            if isinstance(seen, bool) and seen in expected:
                self.flags_since[(s, r)] = {seen}  # what it holds now; later Syncs add to it
            if seen not in expected:
                probe = Call("GetKeyRotationStatus", call.params, call.ref)
                rule = "differs: RotationEnabled (§2 Sync, §3.7, §6)"
                if not self.diverge(
                    probe, "observation", {f"{s}@{r}": {"RotationEnabled": expected}},
                    {f"{s}@{r}": {"RotationEnabled": seen}}, rule,
                ):  # fmt: skip
                    return False
        return True

    def _primary_flag(self, s: str) -> bool | None:
        values = self.model.decode(self.scenario.state)
        for r in self.model.universe("Region").elements:
            if values["role"][(s, r)] == "PRIMARY":
                return str(values["rotation"][(s, r)]).lower() == "true"
        return None

    def _note_flags(self) -> None:
        """After each call: every key of a created set may since have copied the primary's
        current flag (a Sync the runner does not see)."""
        for s in self.endpoint.arns:
            flag = self._primary_flag(s)
            if flag is None:
                continue
            for r in self.model.universe("Region").elements:
                self.flags_since.setdefault((s, r), set()).add(flag)

    def retire(self, s: str) -> None:
        """Give up key set ``s``: the model forgets it (never created), the endpoint's keys are
        left alone, and the next CreateKey of ``s`` starts a fresh set."""
        self.scenario.state = retire_key_set(self.model, self.scenario.state, s)
        self.endpoint.arns.pop(s, None)
        self.endpoint.ciphertexts.pop(s, None)
        self.history[s] = []
        self.flags_since = {k: v for k, v in self.flags_since.items() if k[0] != s}
        self.retired += 1

    def _reachable_views(
        self, s: str, closure: list[State]
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Per key of set ``s``: the views allowed in any state of its environment closure."""
        allowed: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in self.model.universe("Region").elements:
            views = [v for st in closure for v in allowed_views(self.model, st, s, r)]
            allowed[(s, r)] = list({json.dumps(v, sort_keys=True): v for v in views}.values())
        return allowed

    def _may_be_gone(self, key: tuple[str, str], closure: list[State]) -> bool:
        return any(not allowed_views(self.model, st, *key) for st in closure)

    def result(self) -> RunResult:
        return RunResult(
            self.run_id, self.calls, self.stopped, list(self.divergences), self.retired
        )


def _predicted(errors: Sequence[str], success: bool) -> dict[str, Any]:
    if success or not errors:
        return {"result": "success"}
    out: dict[str, Any] = {"result": "error", "error": errors[0]}
    if len(errors) > 1:
        out["also_accepted"] = list(errors[1:])
    return out


def _outcome_name(allowed: Any) -> str:
    if allowed is None:
        return "NotFoundException"
    return allowed if isinstance(allowed, str) else "success"


def write_divergence_trace(run: Run, calls: list[Call], path: str) -> None:
    """The model's run up to the divergence, as ITF; the divergent call, the endpoint's answer
    and the calls to replay (probes and key references included) in the header."""
    d = run.found
    assert d is not None
    doc = to_itf(run.scenario.trace())
    meta = doc["#meta"]
    meta["status"] = "divergence"
    meta["divergence"] = d.as_dict()
    meta["call"] = d.wire
    meta["answer"] = d.endpoint
    meta["calls"] = [c.as_dict() for c in calls]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes((pretty_json(doc) + "\n").encode("utf-8"))


# --- driving many runs ------------------------------------------------------------------------------

Clients = Mapping[str, Any]
# (Regions, settings of the run) -> a context manager yielding one client per Region
ClientFactory = Callable[[tuple[str, ...], Settings], Any]


def random_run(run: Run, settings: Settings, draws: Draws, limit: int | None = None) -> None:
    """Calls drawn one at a time among those the model's current state makes callable (see
    conform_search); at most ``limit`` calls (a shrinking candidate need not go further than
    the best so far). A replay that finds its divergence stops there."""
    candidates = api_instances(run.model, settings.skip)
    length = settings.length if limit is None else min(limit, settings.length)
    while run.calls < length:
        draw = draws.next()
        inst = choose(draw, candidates, run.scenario.state, settings.bias)
        if inst is None:
            run.stopped = "deadlock"
            return
        if not run.step(make_call(draw, inst, settings)):
            return
    run.stopped = "length"


def replay_run(run: Run, calls: Sequence[Call], skip: Sequence[str]) -> None:
    """Calls in order (a trace's, or a candidate while shrinking); calls that mean nothing on the
    wire in the model's current state (or are skipped) are left out."""
    for call in calls:
        inst = run.model.instance(call.model_label)
        if call.action in skip or not is_callable(inst, run.scenario.state):
            continue
        if not run.step(call):
            return
    run.stopped = run.stopped or "end of trace"


def trace_calls(path: str, model: Model, key_ref: str = "arn") -> list[Call]:
    """The calls to replay from an ITF file: its header's ``calls`` (a divergence trace written
    by conform, probes and key references included), else the API steps of its states
    (environment steps are left to the endpoint). Checked against ``model``: one-line errors."""
    doc = load_json(read_text(path), path)
    header = doc.get("#meta", {}) if isinstance(doc.get("#meta"), dict) else {}
    if isinstance(header.get("calls"), list):
        try:
            calls = [Call.from_dict(c) for c in header["calls"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise TraceFormatError(f"{path}: header #meta.calls is malformed") from None
    else:
        ref = "arn" if key_ref == "both" else key_ref
        calls = [
            Call(*_state_call(raw, i, path), ref=ref) for i, raw in enumerate(doc["states"][1:], 1)
        ]
    out = []
    for call in calls:
        try:
            inst = model.instance(call.model_label)
        except ModelError:
            raise TraceFormatError(
                f"{path}: {call.model_label} is not an action of the model"
            ) from None
        if not inst.environment and call.action in DRIVEN:
            out.append(call)
    return out


def _state_call(raw: Any, i: int, path: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    meta = raw.get("#meta", {}) if isinstance(raw, dict) else {}
    action, params = meta.get("action"), meta.get("params", {})
    if not isinstance(action, str) or not isinstance(params, dict):
        raise TraceFormatError(f"{path}: state {i}: #meta names no action")
    return action, tuple((k, str(v)) for k, v in params.items())


def trace_settings(path: str, settings: Settings) -> Settings:
    """The instance a trace file was made on (its header options), for replaying it."""
    header = read_header(load_json(read_text(path), path), path)
    opts = dict(header.options)
    opts.pop("mutant", None)
    regions = opts.pop("regions", settings.regions)
    key_sets = int(opts.pop("key_sets", settings.key_sets))
    origins = opts.pop("origins", settings.origins)
    for name in ("max_versions", "partitions"):
        opts.pop(name, None)
    as_text = ",".join(regions) if isinstance(regions, list) else str(regions)
    origins = ",".join(origins) if isinstance(origins, list) else str(origins)
    return replace(
        settings,
        regions=as_text,
        key_sets=key_sets,
        origins=origins,
        choices=tuple(sorted(opts.items())),
    )


class Driver:
    """Runs scenarios on one endpoint and shrinks what they find: the pieces every run shares
    (the client factory, the model builder, what the endpoint has answered in KMS JSON)."""

    def __init__(self, clients: ClientFactory, builder: Callable[..., Model] | None = None) -> None:
        self.clients = clients
        self.builder = builder
        self.answered: set[str] = set()
        self.where = ""  # the run and call in progress, for a dead endpoint's message
        # Endpoints whose keys accumulate harmlessly (a server, one in-process moto) keep one
        # set of clients for every replay while shrinking: opening them costs more than a replay.
        self.shared = getattr(clients, "shared", False)
        self.open: dict[tuple[str, ...], Any] = {}
        self.stack = ExitStack()
        self.replays = 0  # replays of given calls (delta debugging), for the budget
        self.phase = ""  # while shrinking: the phase Ctrl-C names

    def _clients(self, regions: tuple[str, ...], s: Settings, replay: bool) -> Any:
        if not (replay and self.shared):
            return self.clients(regions, s)
        if regions not in self.open:
            self.open[regions] = self.stack.enter_context(self.clients(regions, s))
        return _already_open(self.open[regions])

    def run(
        self,
        run_id: str,
        s: Settings,
        calls: Sequence[Call] | None = None,
        draws: Draws | None = None,
        stop_on: Signature | None = None,
        limit: int | None = None,
        number: int = 0,
    ) -> Run:
        """One run: the given ``calls`` replayed, or calls drawn from ``draws`` (Hypothesis).
        ``stop_on``: a replay looking for that divergence (it stops there); ``limit``: at most
        that many drawn calls; ``number``: the run's place in the session, for messages."""
        model = conform_model(s, self.builder)
        regions = tuple(model.universe("Region").elements)
        with self._clients(regions, s, stop_on is not None) as region_clients:
            endpoint = Endpoint(region_clients, s.key_ref if s.key_ref != "both" else "arn")
            endpoint.answered = self.answered
            run = Run(model, endpoint, run_id, s, stop_on)
            try:
                if calls is not None:
                    replay_run(run, calls, s.skip)
                else:
                    assert draws is not None, "a run replays calls or draws them"
                    if stop_on is None:
                        self.phase = f"conformance run {number + 1} of {s.runs}"
                        interrupts.enter(self.phase)
                    random_run(run, s, draws, limit)
            except EndpointError as exc:
                call = run.current.label if run.current else "before the first call"
                self.where = f"call {run.calls} ({call})"
                raise EndpointError(str(exc)) from None
            return run

    def reproduces(self, s: Settings, calls: list[Call], sig: Signature) -> Run | None:
        self.replays += 1
        run = self.run("shrink", s, calls, stop_on=sig)
        return run if run.found is not None else None

    def shrink(
        self, s: Settings, calls: list[Call], sig: Signature, budget: int = MAX_SHRINK_REPLAYS
    ) -> tuple[list[Call], Run | None]:
        """The shortest sub-sequence of ``calls`` found that still shows divergence ``sig``:
        greedy delta debugging (drop chunks, halving their size), each candidate replayed from
        scratch on the endpoint, at most ``budget`` replays. For the calls of a ``--trace``
        file (no draws to shrink), and to polish what Hypothesis found."""
        best = self.reproduces(s, calls, sig)
        if best is None:
            return calls, None
        chunk = max(1, len(calls) // 2)
        while chunk >= 1 and budget > 0:
            i, removed = 0, False
            while i < len(calls) and budget > 0:
                candidate = calls[:i] + calls[i + chunk :]
                budget -= 1
                found = self.reproduces(s, candidate, sig) if candidate else None
                if found is not None:
                    calls, best, removed = candidate, found, True
                else:
                    i += chunk
            if not removed:
                chunk //= 2
        return calls, best


def run_conformance(
    settings: Settings,
    clients: ClientFactory,
    endpoint_name: str,
    out: str | None = None,
    traces: Sequence[str] = (),
    builder: Callable[..., Model] | None = None,
) -> Report:
    """Every run: ``clients(regions, settings)`` is a context manager giving one client per
    Region, entered once per run (a fresh in-process moto per run; the same server otherwise).
    The runs are Hypothesis examples (conform_search), or the calls of ``traces``. Then each
    distinct divergence is shrunk and written (``out``)."""
    report = Report(endpoint_name, settings)
    report.documented = documented_outcomes(conform_model(settings, builder), settings.skip)
    driver = Driver(clients, builder)
    search = Search(driver, settings)
    # Per distinct divergence: the settings of its first run, the calls on its key set that
    # led to it, and the example that first showed it (None: a trace file's run).
    firsts: dict[Signature, tuple[Settings, list[Call], int | None]] = {}

    def record(run: Run, s: Settings, number: int | None) -> None:
        report.runs.append(run.result())
        report.coverage.update(run.coverage)
        report.readings.update(run.readings)
        for d, history in zip(run.divergences, run.histories, strict=True):
            if d.kind != "not implemented":
                firsts.setdefault(d.signature(), (s, history, number))

    try:
        if traces:
            for number, (run_id, s, calls) in enumerate(_trace_jobs(traces, settings, builder)):
                driver.phase = f"conformance run {number + 1} of {len(traces)}"
                interrupts.enter(driver.phase)
                record(driver.run(run_id, s, calls), s, None)
        else:
            search.generate(lambda number, run: record(run, settings, number))
        _crashes_after_all(report, driver.answered)
        if settings.shrink:
            driver.phase = "shrinking the findings"
            interrupts.enter(driver.phase)
            with driver.stack:
                _shrink_all(report, driver, search, firsts, out)
    except KeyboardInterrupt:
        report.cut, report.cut_code = f"interrupted during {driver.phase}", EXIT_INTERRUPTED
    except MemoryError:
        report.cut, report.cut_code = f"out of memory during {driver.phase}", EXIT_OUT_OF_MEMORY
    except EndpointError as exc:
        if not driver.where:  # before any call: unreachable, or not KMS at all (one line)
            raise
        report.cut = f"the endpoint stopped answering during {driver.phase}, {driver.where}: {exc}"
        report.cut_code = EXIT_BAD_INPUT
    return report


def _trace_jobs(
    traces: Sequence[str], settings: Settings, builder: Callable[..., Model] | None
) -> list[tuple[str, Settings, list[Call]]]:
    """Per trace file: its name, the instance it was made on, and its calls (read before any
    call is made, so a bad file is one line)."""
    jobs = []
    for path in traces:
        s = trace_settings(path, settings)
        calls = trace_calls(path, conform_model(s, builder), s.key_ref)
        jobs.append((Path(path).name.removesuffix(".itf.json"), s, calls))
    return jobs


def _crashes_after_all(report: Report, answered: set[str]) -> None:
    """An HTTP 500 page is taken for "not implemented" until the operation answers in KMS JSON;
    once it has (in any run), its earlier pages were crashes: report them as InternalFailure."""
    for d in report.divergences:
        if (
            d.kind == "not implemented"
            and d.action in answered
            and PAGE in d.endpoint.get("message", "")
        ):
            d.kind = "error"
            d.endpoint = {"result": "error", "error": "InternalFailure", "message": "HTTP 500"}


def _shrink_all(
    report: Report,
    driver: Driver,
    search: Search,
    firsts: dict[Signature, tuple[Settings, list[Call], int | None]],
    out: str | None,
) -> None:
    """Shrink each distinct divergence; write its trace under ``out``."""
    for number, (sig, (s, history, first)) in enumerate(firsts.items(), start=1):
        shortest, run = shrink_one(driver, search, sig, s, history, first)
        path = None
        if run is not None and out is not None:
            path = str(Path(out) / f"conform-{number:02d}-{sig[1].split(' ')[0]}-{sig[0]}.itf.json")
            write_divergence_trace(run, shortest, path)
        if run is not None:
            report.shrunk[sig] = ([c.label for c in shortest], path)


def shrink_one(
    driver: Driver,
    search: Search,
    sig: Signature,
    s: Settings,
    history: list[Call],
    first: int | None,
) -> tuple[list[Call], Run | None]:
    """The shortest calls found that reproduce ``sig``: for a generated run, Hypothesis re-finds
    it (same seed) and its shrinker works on the draws (``hypothesis_replays`` replays; none by
    default), then the calls on the divergent key set are delta-debugged (MAX_SHRINK_REPLAYS);
    for a trace file's run, delta debugging alone. If Hypothesis cannot reproduce it (an
    endpoint that answers differently now), the calls that led to it are delta-debugged instead.

    Why Hypothesis's shrinker gets no replays by default, measured (moto in-process, 10 runs x
    20 calls, --key-ref id, seed 0, 22 findings; the promote_before_demote fake, 40 x 30): it
    spends its first hundreds of replays making draws smaller at the same length, each a run on
    the endpoint; with 10 replays per finding the shortest sequences total 52 calls instead of
    53 on moto and are the same on the fake, for 1.8 times the time (29 s instead of 16 s)."""
    if first is not None:
        calls, run, _ = search.shrink(sig, first, s.hypothesis_replays)
        if run is not None:
            polished, better = driver.shrink(s, calls, sig)
            return (polished, better) if better is not None else (calls, run)
    return driver.shrink(s, history, sig)


@contextmanager
def _already_open(clients: Any) -> Iterator[Any]:
    yield clients


# --- endpoints --------------------------------------------------------------------------------------


@contextmanager
def moto_in_process(regions: tuple[str, ...], settings: Settings) -> Iterator[dict[str, Any]]:
    """A fresh moto (``mock_aws``) per run: no server, no state shared between runs."""
    from moto import mock_aws  # lazily: moto is an optional dependency

    with mock_aws():
        yield boto3_clients(regions, None)


moto_in_process.shared = True  # type: ignore[attr-defined]


def url_clients(url: str) -> ClientFactory:
    checked: list[bool] = []

    @contextmanager
    def open_clients(regions: tuple[str, ...], settings: Settings) -> Iterator[dict[str, Any]]:
        clients = boto3_clients(regions, url)
        if not checked:
            check_reachable(clients, url)
            checked.append(True)
        yield clients

    open_clients.shared = True  # type: ignore[attr-defined]
    return open_clients


def mutant_clients(
    mutant: str, eager: tuple[str, ...] | None = None, chance: float = 1.0
) -> ClientFactory:
    """Fake clients answering from the model (``none``) or one of its mutants: a wrong endpoint on
    purpose, to see the runner find a seeded bug. ``eager``: the environment steps the fake takes
    after each call (default: conform_fake.EAGER; ``()`` never takes any); ``chance``: the
    probability that it takes them after a given call (seeded), so that both the transient
    states (Creating, Updating) and their completion are seen."""
    builder = None if mutant == "none" else find_mutant("kms", mutant).build
    count = [0]

    @contextmanager
    def open_clients(regions: tuple[str, ...], settings: Settings) -> Iterator[dict[str, Any]]:
        model = conform_model(_with_regions(settings, regions), builder)
        count[0] += 1
        yield model_clients(
            model, EAGER if eager is None else eager, chance, settings.seed * 7919 + count[0]
        )

    return open_clients


def _with_regions(settings: Settings, regions: tuple[str, ...]) -> Settings:
    return replace(settings, regions=",".join(regions))
