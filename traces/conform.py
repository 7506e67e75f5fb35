"""``mrkcheck conform``: drive a KMS implementation through model-generated scenarios.

Each run is a seeded random walk over the model's API actions (or the API steps of a given ITF
trace). Every call is made on the endpoint too, and three things are compared:

1. the outcome: success where the model predicts success, else the predicted exception (with the
   leniency §4 and §6 allow: DisabledException for the X2/3 cells, any failing guard's error when
   the model's ``guard_order`` is ``any``);
2. the response fields §3 documents (a new key's state and type; Decrypt's plaintext);
3. after the call, DescribeKey of every key of every created key set in every Region: each must
   be one of the views :func:`mrkcheck.model.observe.describe_key` allows, in the model's state
   *after some sequence of environment steps* (the endpoint completes those by itself).

A run stops when the model cannot follow the endpoint any more (the endpoint accepted a call the
model refuses, or shows keys no environment steps explain); other divergences are recorded and
the run goes on, since both sides are still in the same state. Each run with a divergence is
written as an ITF trace of the model's run, the divergences in its header ``#meta``.
Rules and findings: docs/conformance.md.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.result import EXIT_INTERRUPTED, EXIT_OK, EXIT_OUT_OF_MEMORY, EXIT_SAFETY
from mrkcheck.lang.model import (
    ActionInstance,
    GuardId,
    Model,
    ModelError,
    State,
    instance_label,
)
from mrkcheck.lang.scenario import Scenario
from mrkcheck.model.conformance import (
    VISIBLE_ENVIRONMENT,
    accepted_errors,
    expected_response,
    model_bound,
)
from mrkcheck.model.observe import describe_key
from mrkcheck.registry import find_mutant, load_factory
from mrkcheck.traces.conform_endpoint import (
    DRIVEN,
    Endpoint,
    Outcome,
    boto3_clients,
    check_reachable,
    view_of,
)
from mrkcheck.traces.conform_fake import EAGER, model_clients
from mrkcheck.traces.itf import (
    TraceFormatError,
    load_json,
    pretty_json,
    read_header,
    read_text,
    to_itf,
)

EXIT_DIVERGENCE = EXIT_SAFETY  # 12: the endpoint is not a run of the model
MAX_EXPLAIN_STATES = 5000
POLL_SECONDS = 0.5
# How often an accepted call of each action is drawn, relative to 1: the operations whose
# multi-Region semantics the model is about come up more often.
WEIGHTS = {
    "ReplicateKey": 4,
    "UpdatePrimaryRegion": 3,
    "ScheduleKeyDeletion": 2,
    "CancelKeyDeletion": 2,
}
KINDS = ("error", "response", "observation", "not implemented")


@dataclass(frozen=True)
class Settings:
    """What to run: the model instance, how many walks of what length, and what to leave out."""

    regions: str = "3"
    key_sets: int = 2
    origins: str = "AWS_KMS"
    runs: int = 10
    length: int = 20
    seed: int = 0
    skip: tuple[str, ...] = ()
    settle: float = 0.0  # seconds to poll DescribeKey before calling an observation a divergence
    key_ref: str = "arn"  # name keys in calls by "arn" or by key "id"
    bias: float = 0.6  # chance of picking a call the model accepts (else one it refuses)
    choices: tuple[tuple[str, Any], ...] = ()  # other model options (role_error, ...)


@dataclass
class Divergence:
    """One disagreement: where (run, call number, trace state index), what the model predicted,
    and what the endpoint did."""

    run: str
    call: int
    label: str
    kind: str
    predicted: dict[str, Any]
    endpoint: dict[str, Any]
    state: int  # index in the run's trace of the state the call was made (or observed) in
    rule: str = ""  # the guard or choice behind the prediction, e.g. "§3.2.4 ... (Q4)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def signature(self) -> tuple[str, str, str, str]:
        """Same finding, other run: kind, action, prediction and answer, without parameters."""
        action = self.label.split("(", 1)[0]
        if self.kind == "observation":
            return (self.kind, "DescribeKey", "views allowed", self.rule)
        if self.kind == "not implemented":
            return (self.kind, action, "-", "not implemented")
        return (self.kind, action, _short(self.predicted), _short(self.endpoint))

    def line(self) -> str:
        if self.kind == "observation":
            return f"run {self.run} call {self.call} after {self.label}: DescribeKey {self.rule}"
        return (
            f"run {self.run} call {self.call} {self.label}: {self.kind}: model "
            f"{_short(self.predicted)}; endpoint {_short(self.endpoint)}"
        )


def _short(d: Mapping[str, Any]) -> str:
    if d.get("result") == "not implemented":
        return "not implemented"
    if d.get("result") == "error" and d.get("error") == "InternalFailure":
        return f"InternalFailure ({str(d.get('message', '')).split(':', 1)[0]})"
    if d.get("result") == "error":
        return str(d.get("error"))
    if "result" in d and len(d) == 1:
        return str(d["result"])
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


@dataclass
class RunResult:
    run: str
    calls: int
    stopped: str  # "length", "deadlock", "divergence", "end of trace"
    divergences: list[Divergence] = field(default_factory=list)
    trace: str | None = None


@dataclass
class Report:
    endpoint: str
    settings: Settings
    runs: list[RunResult] = field(default_factory=list)
    # Set when Ctrl-C, SIGTERM or lack of memory cut the runs short: "interrupted during
    # conformance run 3 of 10". The finished runs are reported as usual.
    cut: str = ""
    cut_code: int = EXIT_OK

    @property
    def divergences(self) -> list[Divergence]:
        return [d for r in self.runs for d in r.divergences]

    @property
    def exit_code(self) -> int:
        if self.cut:
            return self.cut_code
        return EXIT_DIVERGENCE if self.divergences else EXIT_OK

    def findings(self) -> list[tuple[tuple[str, str, str, str], int, Divergence]]:
        """Distinct divergences (by signature) with their count and first example."""
        counts: Counter[tuple[str, str, str, str]] = Counter()
        first: dict[tuple[str, str, str, str], Divergence] = {}
        for d in self.divergences:
            counts[d.signature()] += 1
            first.setdefault(d.signature(), d)
        return [(sig, counts[sig], first[sig]) for sig in first]

    def as_dict(self) -> dict[str, Any]:
        by_kind = Counter(d.kind for d in self.divergences)
        return {
            "endpoint": self.endpoint,
            "settings": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.settings).items()
            },
            "runs": len(self.runs),
            "calls": sum(r.calls for r in self.runs),
            "divergences": len(self.divergences),
            "by_kind": {k: by_kind[k] for k in KINDS if by_kind[k]},
            "findings": [
                {
                    "kind": s[0],
                    "action": s[1],
                    "model": s[2],
                    "endpoint": s[3],
                    "count": n,
                    "example": d.as_dict(),
                }
                for s, n, d in self.findings()
            ],
            "run_results": [
                {
                    "run": r.run,
                    "calls": r.calls,
                    "stopped": r.stopped,
                    "trace": r.trace,
                    "divergences": [d.as_dict() for d in r.divergences],
                }
                for r in self.runs
            ],
            "exit_code": self.exit_code,
            "cut": self.cut or None,
        }

    def text(self, limit: int = 20) -> str:
        total = self.divergences
        calls = sum(r.calls for r in self.runs)
        lines = [
            f"conform: {len(self.runs)} runs, {calls} calls against {self.endpoint}"
            + (f" ({self.cut}: the runs finished before it)" if self.cut else ""),
            f"divergences: {len(total)}"
            + "".join(f", {k} {n}" for k, n in Counter(d.kind for d in total).items()),
        ]
        findings = self.findings()
        if findings:
            lines.append(f"distinct findings: {len(findings)}")
            for (kind, action, model, endpoint), n, d in findings[:limit]:
                example = f"(x{n}; e.g. run {d.run} call {d.call} {d.label})"
                if kind == "observation":
                    lines.append(f"  [{kind}] DescribeKey {d.rule} {example}")
                    key = next(iter(d.endpoint))
                    lines.append(
                        f"      {key}: endpoint {compact_view(d.endpoint[key])}; model "
                        + " | ".join(compact_view(v) for v in _as_list(d.predicted[key]))
                    )
                else:
                    lines.append(
                        f"  [{kind}] {action}: model {model}; endpoint {endpoint} {example}"
                    )
            if len(findings) > limit:
                lines.append(f"  ... and {len(findings) - limit} more (see --json)")
        lines += [f"wrote {r.trace}" for r in self.runs if r.trace]
        return "\n".join(lines)


def compact_view(view: Any) -> str:
    """A DescribeKey view on one line: ``Enabled PRIMARY@us-east-1 replicas=eu-west-1``."""
    if not isinstance(view, dict):
        return str(view)
    if "DescribeKeyError" in view:
        return f"DescribeKey failed: {view['DescribeKeyError']}"
    replicas = ",".join(view.get("ReplicaRegions") or []) or "-"
    enabled = (
        "" if view.get("Enabled") == (view.get("KeyState") == "Enabled") else " Enabled!=KeyState"
    )
    return (
        f"{view.get('KeyState')} {view.get('MultiRegionKeyType')} primary="
        f"{view.get('PrimaryRegion')} replicas={replicas}{enabled}"
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the model side ---------------------------------------------------------------------------------


def conform_model(settings: Settings, builder: Callable[..., Model] | None = None) -> Model:
    """The instance the scenarios come from. ``max_versions`` is raised to 5: the model's bound on
    rotations is not the API's quota, and calls refused only by the bound are never made."""
    options = dict(settings.choices)
    options.setdefault("max_versions", 5)
    return (builder or load_factory("kms"))(
        regions=settings.regions,
        key_sets=settings.key_sets,
        origins=settings.origins,
        with_properties=False,
        **options,
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


def choose(
    rng: random.Random, candidates: list[ActionInstance], state: State, bias: float
) -> ActionInstance | None:
    """Pick a call the model accepts (with probability ``bias``) or one it refuses.

    An accepted call: an action drawn by WEIGHTS (the multi-Region operations more often), then
    an instance. A refused call: a (action, refusal reason) pair drawn uniformly, then an
    instance; so wide actions (ReplicateKey has Regions^2 instances) do not crowd out the rest,
    and a rare reason (a second replica into one Region) is tried as often as a common one."""
    callable_ = [i for i in candidates if is_callable(i, state)]
    accepted = [i for i in callable_ if i.refusal(state) is None]
    refused = [i for i in callable_ if i.refusal(state) is not None]
    if accepted and (not refused or rng.random() < bias):
        names = list(dict.fromkeys(i.action for i in accepted))
        name = rng.choices(names, [WEIGHTS.get(n, 1) for n in names])[0]
        return rng.choice([i for i in accepted if i.action == name])
    if not refused:
        return None
    reasons = list(dict.fromkeys((i.action, _reason(i, state)) for i in refused))
    reason = rng.choice(reasons)
    return rng.choice([i for i in refused if (i.action, _reason(i, state)) == reason])


def _reason(inst: ActionInstance, state: State) -> GuardId | None:
    guard = inst.refusal(state)
    return guard.identity if guard is not None else None


def allowed_views(model: Model, state: State, key_set: str, region: str) -> list[dict[str, Any]]:
    return [view_of(v) for v in describe_key(model, state, key_set, region)]


def mismatches(
    model: Model, state: State, observed: Mapping[tuple[str, str], dict[str, Any] | None], s: str
) -> list[tuple[str, str]]:
    """The keys of set ``s`` whose observed view the model does not allow in ``state``."""
    bad = []
    for (key_set, region), seen in observed.items():
        if key_set != s:
            continue
        allowed = allowed_views(model, state, key_set, region)
        if (seen is None and allowed) or (seen is not None and seen not in allowed):
            bad.append((key_set, region))
    return bad


def explain(
    model: Model, state: State, observed: Mapping[tuple[str, str], dict[str, Any] | None], s: str
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
        if not mismatches(model, current, observed, s):
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


# --- one run ----------------------------------------------------------------------------------------


class Run:
    """One scenario driven on the endpoint: the model's scenario, what was called, what diverged."""

    def __init__(self, model: Model, endpoint: Endpoint, run_id: str, settings: Settings) -> None:
        self.model = model
        self.endpoint = endpoint
        self.run_id = run_id
        self.settings = settings
        self.scenario = Scenario(model)
        self.calls = 0
        self.divergences: list[Divergence] = []
        self.stopped = ""

    @property
    def index(self) -> int:
        return len(self.scenario.steps) - 1

    def diverge(
        self, inst: ActionInstance, kind: str, predicted: dict, seen: dict, rule: str = ""
    ) -> None:
        self.divergences.append(
            Divergence(self.run_id, self.calls, inst.label, kind, predicted, seen, self.index, rule)
        )

    def step(self, inst: ActionInstance) -> bool:
        """Make one call on both sides and compare; False when the run cannot go on."""
        self.calls += 1
        guard = inst.refusal(self.scenario.state)
        outcome = self.endpoint.call(inst.action, dict(inst.params))
        if outcome.not_implemented:
            self.diverge(inst, "not implemented", _predicted(guard), outcome.as_dict())
            return True
        if guard is None:
            return self._expected_success(inst, outcome)
        return self._expected_refusal(inst, guard.doc, outcome)

    def _expected_success(self, inst: ActionInstance, outcome: Outcome) -> bool:
        if outcome.error:  # the endpoint changed nothing, so neither does the model
            self.diverge(inst, "error", {"result": "success"}, outcome.as_dict())
            return self.reconcile(inst)
        self.scenario.call(inst.action, **dict(inst.params))
        wanted = expected_response(self.model, self.scenario, inst)
        wrong = {
            k: v
            for k, v in wanted.items()
            if k in outcome.response and outcome.response[k] not in v
        }
        if wrong:
            self.diverge(
                inst,
                "response",
                {k: v for k, v in wanted.items() if k in wrong},
                {k: outcome.response[k] for k in wrong},
            )
        return self.reconcile(inst)

    def _expected_refusal(self, inst: ActionInstance, rule: str, outcome: Outcome) -> bool:
        accepted = accepted_errors(self.model, inst, self.scenario.state)
        predicted: dict[str, Any] = {"result": "error", "error": accepted[0]}
        if len(accepted) > 1:
            predicted["also_accepted"] = list(accepted[1:])
        if outcome.error is None:  # the endpoint changed something the model cannot follow
            self.diverge(inst, "error", predicted, outcome.as_dict(), rule)
            self.stopped = "divergence"
            return False
        if outcome.error not in accepted:
            self.diverge(inst, "error", predicted, outcome.as_dict(), rule)
        return self.reconcile(inst)

    def observe(self) -> dict[tuple[str, str], dict[str, Any] | None]:
        regions = self.model.universe("Region").elements
        return {
            (s, r): self.endpoint.describe(s, r)
            for s in self.model.universe("KeySet").elements
            if s in self.endpoint.arns
            for r in regions
        }

    def reconcile(self, inst: ActionInstance) -> bool:
        """Let the model take the environment steps the endpoint's keys show (polling up to
        ``settle`` seconds); an observation nothing explains ends the run."""
        deadline = time.monotonic() + self.settings.settle
        while True:
            observed = self.observe()
            sets = sorted({s for s, _ in observed})
            paths = {s: explain(self.model, self.scenario.state, observed, s) for s in sets}
            unexplained = [s for s in sets if paths[s] is None]
            if not unexplained:
                for s in sets:
                    for step in paths[s] or []:
                        self.scenario.call(step.action, **dict(step.params))
                return True
            if time.monotonic() >= deadline:
                self._observation_divergence(inst, observed, unexplained)
                return False
            time.sleep(POLL_SECONDS)

    def _observation_divergence(
        self, inst: ActionInstance, observed: Mapping[tuple[str, str], Any], sets: list[str]
    ) -> None:
        """Name the keys that look wrong, with every view the model allows for them in any state
        its environment steps reach from here, and the fields that differ."""
        allowed = self._reachable_views(sets)
        # Keys no reachable state explains on their own; else (only the combination of views is
        # impossible) every key that looks wrong right now.
        keys = [k for k in allowed if observed[k] is not None and observed[k] not in allowed[k]]
        keys += [k for k in allowed if observed[k] is None and not self._may_be_gone(k)]
        state = self.scenario.state
        keys = keys or [k for s in sets for k in mismatches(self.model, state, observed, s)]
        predicted: dict[str, Any] = {}
        fields: set[str] = set()
        for key in sorted(keys):
            predicted[f"{key[0]}@{key[1]}"] = allowed[key] or "NotFound"
            fields |= differing_fields(allowed[key], observed[key])
        seen = {f"{s}@{r}": observed[(s, r)] or "NotFound" for s, r in sorted(keys)}
        self.diverge(inst, "observation", predicted, seen, "differs: " + ",".join(sorted(fields)))
        self.stopped = "divergence"

    def _reachable_views(self, sets: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Per key of ``sets``: the views allowed in any state environment steps reach."""
        allowed: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for s in sets:
            closure = environment_closure(self.model, self.scenario.state, s)
            for r in self.model.universe("Region").elements:
                views = [v for st in closure for v in allowed_views(self.model, st, s, r)]
                allowed[(s, r)] = list({json.dumps(v, sort_keys=True): v for v in views}.values())
        return allowed

    def _may_be_gone(self, key: tuple[str, str]) -> bool:
        closure = environment_closure(self.model, self.scenario.state, key[0])
        return any(not allowed_views(self.model, st, *key) for st in closure)

    def result(self, out: Path | None) -> RunResult:
        path = None
        if out is not None and any(d.kind != "not implemented" for d in self.divergences):
            path = str(out / f"conform-{self.run_id}.itf.json")
            write_divergence_trace(self.scenario, self.divergences, path)
        return RunResult(self.run_id, self.calls, self.stopped, list(self.divergences), path)


def _predicted(guard: Any) -> dict[str, Any]:
    return {"result": "success"} if guard is None else {"result": "error", "error": guard.error}


def write_divergence_trace(scenario: Scenario, divergences: list[Divergence], path: str) -> None:
    """The model's run up to the last divergence, as ITF; the divergences in the header."""
    trace = scenario.trace()
    last = max(d.state for d in divergences)
    trace.steps = trace.steps[: last + 1]
    doc = to_itf(trace)
    doc["#meta"]["status"] = "divergence"
    doc["#meta"]["divergence"] = divergences[0].as_dict()
    if len(divergences) > 1:
        doc["#meta"]["divergences"] = [d.as_dict() for d in divergences]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes((pretty_json(doc) + "\n").encode("utf-8"))


# --- driving many runs ------------------------------------------------------------------------------

Clients = Mapping[str, Any]
# (Regions, settings of the run) -> a context manager yielding one client per Region
ClientFactory = Callable[[tuple[str, ...], Settings], Any]


def random_run(run: Run, settings: Settings, seed: int) -> None:
    rng = random.Random(seed)
    candidates = api_instances(run.model, settings.skip)
    while run.calls < settings.length:
        inst = choose(rng, candidates, run.scenario.state, settings.bias)
        if inst is None:
            run.stopped = "deadlock"
            return
        if not run.step(inst):
            return
    run.stopped = "length"


def replay_run(run: Run, labels: list[str], skip: Sequence[str]) -> None:
    """The API calls of a trace, in order; environment steps are left to the endpoint, and calls
    that mean nothing on the wire (or are skipped, or not driven) are left out."""
    for label in labels:
        inst = run.model.instance(label)
        if inst.environment or inst.action not in DRIVEN or inst.action in skip:
            continue
        if not is_callable(inst, run.scenario.state):
            continue
        if not run.step(inst):
            return
    run.stopped = "end of trace"


def trace_labels(path: str, model: Model) -> list[str]:
    """The action labels of an ITF file, checked against ``model`` (one-line errors)."""
    doc = load_json(read_text(path), path)
    labels = []
    for i, raw in enumerate(doc["states"][1:], start=1):
        meta = raw.get("#meta", {}) if isinstance(raw, dict) else {}
        action, params = meta.get("action"), meta.get("params", {})
        if not isinstance(action, str) or not isinstance(params, dict):
            raise TraceFormatError(f"{path}: state {i}: #meta names no action")
        label = instance_label(action, [(k, str(v)) for k, v in params.items()])
        try:
            model.instance(label)
        except ModelError:
            raise TraceFormatError(
                f"{path}: state {i}: {label} is not an action of the model"
            ) from None
        labels.append(label)
    return labels


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


def run_conformance(
    settings: Settings,
    clients: ClientFactory,
    endpoint_name: str,
    out: str | None = None,
    traces: Sequence[str] = (),
    builder: Callable[..., Model] | None = None,
) -> Report:
    """Every run: ``clients(regions, settings)`` is a context manager giving one client per
    Region, entered once per run (a fresh in-process moto per run; the same server otherwise)."""
    report = Report(endpoint_name, settings)
    folder = Path(out) if out else None
    jobs: list[tuple[str, Settings, list[str] | None]] = []
    for path in traces:
        s = trace_settings(path, settings)
        jobs.append(
            (
                Path(path).name.removesuffix(".itf.json"),
                s,
                trace_labels(path, conform_model(s, builder)),
            )
        )
    if not traces:
        jobs = [(f"{i:03d}", settings, None) for i in range(settings.runs)]
    for number, (run_id, s, labels) in enumerate(jobs):
        phase = f"conformance run {number + 1} of {len(jobs)}"
        interrupts.enter(phase)
        try:
            report.runs.append(_one_run(run_id, s, labels, clients, folder, builder, number))
        except KeyboardInterrupt:
            report.cut, report.cut_code = f"interrupted during {phase}", EXIT_INTERRUPTED
            break
        except MemoryError:
            report.cut, report.cut_code = f"out of memory during {phase}", EXIT_OUT_OF_MEMORY
            break
    return report


def _one_run(
    run_id: str,
    s: Settings,
    labels: list[str] | None,
    clients: ClientFactory,
    folder: Path | None,
    builder: Callable[..., Model] | None,
    number: int,
) -> RunResult:
    model = conform_model(s, builder)
    regions = tuple(model.universe("Region").elements)
    with clients(regions, s) as region_clients:
        run = Run(model, Endpoint(region_clients, s.key_ref), run_id, s)
        if labels is None:
            random_run(run, s, s.seed * 1_000_003 + number)
        else:
            replay_run(run, labels, s.skip)
        return run.result(folder)


# --- endpoints --------------------------------------------------------------------------------------


@contextmanager
def moto_in_process(regions: tuple[str, ...], settings: Settings) -> Iterator[dict[str, Any]]:
    """A fresh moto (``mock_aws``) per run: no server, no state shared between runs."""
    from moto import mock_aws  # lazily: moto is an optional dependency

    with mock_aws():
        yield boto3_clients(regions, None)


def url_clients(url: str) -> ClientFactory:
    checked: list[bool] = []

    @contextmanager
    def open_clients(regions: tuple[str, ...], settings: Settings) -> Iterator[dict[str, Any]]:
        clients = boto3_clients(regions, url)
        if not checked:
            check_reachable(clients, url)
            checked.append(True)
        yield clients

    return open_clients


def mutant_clients(mutant: str, eager: tuple[str, ...] | None = None) -> ClientFactory:
    """Fake clients answering from the model (``none``) or one of its mutants: a wrong endpoint on
    purpose, to see the runner find a seeded bug. ``eager``: the environment steps the fake takes
    at once after each call (default: conform_fake.EAGER; ``()`` never takes any)."""
    builder = None if mutant == "none" else find_mutant("kms", mutant).build

    @contextmanager
    def open_clients(regions: tuple[str, ...], settings: Settings) -> Iterator[dict[str, Any]]:
        model = conform_model(_with_regions(settings, regions), builder)
        yield model_clients(model, EAGER if eager is None else eager)

    return open_clients


def _with_regions(settings: Settings, regions: tuple[str, ...]) -> Settings:
    return replace(settings, regions=",".join(regions))
