"""Run a workflow against a real KMS endpoint through boto3, and record the run as a trace.

The workflow model (``mrkcheck.model.workflow``) says what each step may do; here the steps are
made for real: each call goes to the endpoint (:class:`~mrkcheck.traces.conform_endpoint.Endpoint`),
each wait or check polls DescribeKey (and GetKeyRotationStatus), and the branch the workflow takes
is the one whose outcome the endpoint gave. The endpoint's own steps (a replica finishing
Creating, an update completing, a Sync) are invisible; they are *explained*: before each workflow
step the shortest sequence of environment steps of the model (breadth-first, at most
:data:`EXPLAIN_DEPTH`) after which that outcome is possible is put in the trace before it.

An outcome that no such sequence explains (an error the model does not predict there, a view no
reachable state shows) ends the run: it is recorded as the step it was, so that
``mrkcheck trace check`` on the trace names it as the first step that is not a run of the model
(exit 12). Otherwise the trace is a run of the model and ``trace check`` says so (exit 0).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from mrkcheck.check.result import Step, Trace
from mrkcheck.errors import UsageError
from mrkcheck.lang.expr import evaluate
from mrkcheck.lang.model import ActionInstance, Model, State
from mrkcheck.model.kms import KmsOptions, declare, option_fields
from mrkcheck.model.workflow import (
    DETAILS,
    DONE,
    View,
    candidate_views,
    load_workflows,
    parse_label,
    view_allowed,
)

from .conform_endpoint import CALLS, Call, Endpoint, Outcome

EXPLAIN_DEPTH = 6  # environment steps put before one workflow step, at most
START_TIMEOUT = 120.0  # seconds the endpoint may take to reach the start state (Creating...)
START_POLL = 0.2  # seconds between two polls of the start state, at least
CALL_PARAMS = ("at", "error", "retry", "saw", "timeout")  # a step's params that are not the call's
FIELD_CHOICES = [f for n in range(len(DETAILS) + 1) for f in combinations(DETAILS, n)]


@dataclass
class WorkflowRun:
    """The recorded run: the trace, and why it stopped (empty: every workflow reached its end)."""

    trace: Trace
    problem: str = ""
    log: list[str] = field(default_factory=list)
    interrupted: bool = False


def run_on_endpoint(
    model: Model,
    clients: Mapping[str, Any],
    key_ref: str = "arn",
    interval: float = 0.0,
    max_steps: int = 200,
) -> WorkflowRun:
    """Run the workflows of ``model`` (built by ``mrkcheck.model.workflow.build``) on the
    endpoint behind ``clients`` (one boto3 KMS client per Region); ``interval`` seconds between
    two polls of a wait."""
    endpoint = Endpoint(clients, key_ref)
    runner = _Runner(model, endpoint, interval)
    runner.set_up()
    interrupted = False
    try:
        for _ in range(max_steps):
            if runner.problem or not runner.step_one():
                break
        else:
            runner.problem = f"stopped after {max_steps} steps"
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the steps made so far are still a run
        interrupted, runner.problem = True, f"interrupted after {len(runner.steps) - 1} steps"
    trace = Trace(model.schema, runner.steps, None, model.name, None, dict(model.options))
    return WorkflowRun(trace, runner.problem, runner.log, interrupted)


@dataclass
class _Runner:
    model: Model
    endpoint: Endpoint
    interval: float
    steps: list[Step] = field(default_factory=list)
    problem: str = ""
    log: list[str] = field(default_factory=list)
    turn: int = 0  # the workflow whose turn it is
    polled: dict[str, Any] = field(default_factory=dict)  # workflow -> its last poll's step

    @property
    def state(self) -> State:
        return self.steps[-1].state

    # --- the start: the workflow's start steps, made for real ---------------------------------

    def set_up(self) -> None:
        specs = load_workflows(str(self.model.option("workflow", "")))
        start, key_set = next(((s.start, s.key_set) for s in specs if s.start), ((), "k1"))
        for text in start:
            action, params = parse_label(text, key_set)
            if action in CALLS:
                outcome = self._call(action, params)
                if outcome.error:
                    raise UsageError(f"start step {text} failed on the endpoint: {outcome.error}")
                self.log.append(f"start: {text}")
        self.steps = [Step(None, (), self.model.initial[0])]
        self._await_start(key_set)

    def _await_start(self, key_set: str) -> None:
        """Poll each Region until the endpoint shows what the start state shows (its own steps,
        such as a replica finishing Creating, take seconds on a real endpoint): for
        :data:`START_TIMEOUT` seconds, not a number of polls, so that it does not depend on how
        fast the endpoint answers."""
        kms = declare(KmsOptions(**self._kms_options()))[1]
        deadline = time.monotonic() + START_TIMEOUT
        for region in kms.Region:
            allowed = {
                v.describe()
                for v in candidate_views(region, kms.Region.elements)
                if evaluate(view_allowed(kms, key_set, v), self.state)
            }
            while (said := self._observe(key_set, region).describe()) not in allowed:
                if time.monotonic() > deadline:
                    raise UsageError(
                        f"the endpoint still shows {said} in {region} after {START_TIMEOUT:.0f} s, "
                        f"not the start state's {sorted(allowed)}"
                    )
                time.sleep(max(self.interval, START_POLL))

    def _kms_options(self) -> dict[str, Any]:
        names = {f.name for f in option_fields()}
        return {k: v for k, v in self.model.options if k in names}

    # --- one workflow step --------------------------------------------------------------------

    def step_one(self) -> bool:
        """One step of the next workflow in turn that is not at its end (several workflows take
        turns, one step each); False when every one is at its end."""
        counters = self._counters()
        for k in range(len(counters)):
            pc = counters[(self.turn + k) % len(counters)]
            process = pc.name.removesuffix(".pc")
            branches = self._branches(process, self._location(pc))
            if branches:
                self.turn = (self.turn + k + 1) % len(counters)
                self._take(process, branches)
                return True
        for pc in counters:
            if self._location(pc) != DONE:
                self.log.append(f"{pc.name.removesuffix('.pc')}: stopped at {self._location(pc)}")
        return False

    def _location(self, pc: Any) -> str:
        return pc.domain.show(self.state[pc.first_slot])

    def _counters(self) -> list[Any]:
        return [v for v in self.model.schema.variables if v.name.endswith(".pc")]

    def _branches(self, process: str, location: str) -> list[ActionInstance]:
        prefix = f"{process}: "
        return [
            i
            for i in self.model.instances
            if i.action.startswith(prefix) and dict(i.params).get("at") == location
        ]

    def _take(self, process: str, branches: list[ActionInstance]) -> None:
        first = branches[0]
        action = first.action.split(": ", 1)[1]
        call = {k: v for k, v in first.params if k not in CALL_PARAMS}
        if action in ("goto", "fail"):
            said, matching = action, branches
        elif action == "DescribeKey":
            if self.polled.get(process) == dict(first.params)["at"]:
                time.sleep(self.interval)  # the same wait again: give the endpoint time
            view = self._observe(call["s"], call["r"])
            labels = {view.describe(fields) for fields in FIELD_CHOICES}  # as a poll may name it
            matching = [b for b in branches if dict(b.params).get("saw") in labels]
            said = next((str(dict(b.params)["saw"]) for b in matching), view.describe())
        else:
            outcome = self._call(action, call)
            if outcome.not_implemented:
                self.problem = f"{action} is not implemented by the endpoint"
                return
            said = outcome.error or "success"
            matching = [b for b in branches if dict(b.params).get("error") == outcome.error]
        self.polled[process] = dict(first.params)["at"] if action == "DescribeKey" else None
        self.log.append(
            f"{process}: {action}({', '.join(f'{k}={v}' for k, v in call.items())}) -> {said}"
        )
        self._record(first, matching, said)

    def _call(self, action: str, params: dict[str, str]) -> Outcome:
        """One of the workflow's calls on the endpoint, naming keys as ``--key-ref`` says."""
        return self.endpoint.call(Call(action, tuple(params.items()), self.endpoint.key_ref))

    def _observe(self, key_set: str, region: str) -> View:
        """DescribeKey and GetKeyRotationStatus on the endpoint, as a :class:`View` (a failure
        other than NotFoundException shows as a key state no model state has)."""
        shown = self.endpoint.describe(key_set, region)
        if shown is None:
            return View(region, "Absent", "NONE", False)
        if "DescribeKeyError" in shown:
            return View(region, str(shown["DescribeKeyError"]), "?", None)
        rotation = self._rotation(key_set, region)
        key_type, primary = str(shown["MultiRegionKeyType"]), shown["PrimaryRegion"]
        return View(region, str(shown["KeyState"]), key_type, rotation, primary)

    def _rotation(self, key_set: str, region: str) -> bool | None:
        """GetKeyRotationStatus: the flag, or None where the endpoint refuses the call (an
        endpoint that cannot be reached raises EndpointError from ``_failure``)."""
        client = self.endpoint.clients[region]
        try:
            status = client.get_key_rotation_status(KeyId=self.endpoint.ref(key_set, region))
        except Exception as exc:  # noqa: BLE001 - a refusal is an observation
            self.endpoint._failure(exc, "GetKeyRotationStatus")
            return None
        return bool(status.get("KeyRotationEnabled"))

    # --- explaining an outcome by the endpoint's invisible steps -------------------------------

    def _record(self, first: ActionInstance, matching: list[ActionInstance], said: str) -> None:
        for path, inst in self._explain(matching):
            self.steps += path
            self.steps.append(Step(inst.action, inst.params, inst.apply(self.state)))
            return
        # Not a run of the model: record the step as it happened, and stop.
        if matching:
            inst = matching[0]
            self.steps.append(Step(inst.action, inst.params, inst.apply(self.state)))
        else:
            params = tuple((k, v) for k, v in first.params if k not in ("error", "saw"))
            key = "saw" if "saw" in dict(first.params) else "error"
            self.steps.append(Step(first.action, (*params, (key, said)), self.state))
        self.problem = f"{first.action} -> {said}: not explained by the model"

    def _explain(self, matching: list[ActionInstance]):
        """(environment steps, instance): the fewest environment steps after which one of the
        matching instances is enabled; nothing if none within EXPLAIN_DEPTH."""
        environment = [i for i in self.model.instances if i.environment and ": " not in i.action]
        seen = {self.state}
        queue: deque[tuple[State, list[Step]]] = deque([(self.state, [])])
        while queue:
            state, path = queue.popleft()
            for inst in matching:
                if inst.refusal(state) is None:
                    yield path, inst
                    return
            if len(path) >= EXPLAIN_DEPTH:
                continue
            for env in environment:
                if env.refusal(state) is None:
                    nxt = env.apply(state)
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, [*path, Step(env.action, env.params, nxt)]))
