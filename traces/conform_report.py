"""What ``mrkcheck conform`` found, as data and as text: divergences, findings, coverage, readings.

Kept apart from the runner (:mod:`mrkcheck.traces.conform`) so that the report can be read and
tested without driving anything. A *finding* is one distinct divergence (its signature), with how
often it was seen, its first example, and the shortest call sequence that reproduces it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mrkcheck.check.result import EXIT_OK, EXIT_SAFETY

EXIT_DIVERGENCE = EXIT_SAFETY  # 12: the endpoint is not a run of the model
KINDS = ("error", "response", "observation", "not implemented")
Signature = tuple[str, str, str, str]


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
    key_ref: str = "both"  # name keys in calls by "arn", by key "id", or "both" (drawn per call)
    bias: float = 0.6  # chance of picking a call the model accepts (else one it refuses)
    choices: tuple[tuple[str, Any], ...] = ()  # other model options (role_error, ...)
    strict: bool = False  # one prediction per call: no documented alternative readings
    probes: float = 0.2  # chance that a call sends one input in a documented invalid form
    shrink: bool = True  # find the shortest call sequence for each distinct divergence
    hypothesis_replays: int = 0  # replays Hypothesis's shrinker may spend on each finding


@dataclass
class Divergence:
    """One disagreement: where (run, call number, trace state index), what the model predicted,
    what the endpoint did, and the documented rule behind the prediction."""

    run: str
    call: int
    label: str
    kind: str
    predicted: dict[str, Any]
    endpoint: dict[str, Any]
    state: int  # index in the run's model trace of the state the call was made (or observed) in
    rule: str = ""  # the guard or rule behind the prediction, e.g. "§3.2.4 ... (Q4)"
    wire: dict[str, Any] = field(default_factory=dict)  # the call as sent (Call.as_dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def action(self) -> str:
        return self.label.split("(", 1)[0]

    def signature(self) -> Signature:
        """Same finding, other run: kind, action, prediction and answer, without parameters;
        for observations, the fields that differ."""
        if self.kind == "observation":
            what = "GetKeyRotationStatus" if "RotationEnabled" in self.rule else "DescribeKey"
            return (self.kind, what, "views allowed", self.rule)
        if self.kind == "not implemented":
            return (self.kind, self.action, "-", "not implemented")
        if self.kind == "response":
            return (self.kind, self.action, ",".join(sorted(self.predicted)), short(self.endpoint))
        probe = self.wire.get("probe", "")
        action = f"{self.action} [{probe}]" if probe else self.action
        predicted = {k: v for k, v in self.predicted.items() if k != "also_accepted"}
        return (self.kind, action, short(predicted), short(self.endpoint))

    def line(self) -> str:
        if self.kind == "observation":
            return f"run {self.run} call {self.call} after {self.label}: DescribeKey {self.rule}"
        return (
            f"run {self.run} call {self.call} {self.label}: {self.kind}: model "
            f"{short(self.predicted)}; endpoint {short(self.endpoint)}"
        )


def short(d: Mapping[str, Any]) -> str:
    if d.get("result") == "not implemented":
        return "not implemented"
    if d.get("result") == "error" and d.get("error") == "InternalFailure":
        return f"InternalFailure ({str(d.get('message', '')).split(':', 1)[0]})"
    if d.get("result") == "error":
        also = d.get("also_accepted") or []
        return " or ".join([str(d.get("error")), *also])
    if d.get("result") == "success" or ("result" in d and len(d) == 1):
        return str(d["result"])
    return json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class Finding:
    """One distinct divergence: its count, first example, and (once shrunk) the shortest call
    sequence that reproduces it and the trace written for it."""

    signature: Signature
    count: int
    example: Divergence
    shortest: list[str] | None = None  # call labels
    trace: str | None = None

    def as_dict(self) -> dict[str, Any]:
        kind, action, model, endpoint = self.signature
        return {
            "kind": kind,
            "action": action,
            "model": model,
            "endpoint": endpoint,
            "count": self.count,
            "rule": self.example.rule,
            "example": self.example.as_dict(),
            "shortest": self.shortest,
            "trace": self.trace,
        }

    def lines(self) -> list[str]:
        kind, action, model, endpoint = self.signature
        d = self.example
        where = f"x{self.count}; e.g. run {d.run} call {d.call}"
        if kind == "observation":
            head = f"  [{kind}] after {d.label}: DescribeKey {d.rule} ({where})"
            key = next(iter(d.endpoint))
            allowed = " | ".join(compact_view(v) for v in _as_list(d.predicted[key]))
            body = [f"      {key}: endpoint {compact_view(d.endpoint[key])}; model {allowed}"]
        elif kind == "response":
            head = f"  [{kind}] {action}: fields {model} ({where})"
            body = [f"      {d.label}: endpoint {endpoint}; model {short(d.predicted)}"]
            body.append(f"      rule: {d.rule}")
        else:
            head = f"  [{kind}] {action}: model {model}; endpoint {endpoint} ({where})"
            body = [f"      {d.label}", f"      rule: {d.rule}"] if d.rule else [f"      {d.label}"]
        if self.shortest is not None:
            body.append(f"      shortest ({len(self.shortest)} calls): " + "; ".join(self.shortest))
        if self.trace:
            body.append(f"      trace: {self.trace}")
        return [head, *body]


def compact_view(view: Any) -> str:
    """A DescribeKey view on one line: ``Enabled PRIMARY primary=us-east-1 replicas=eu-west-1``."""
    if not isinstance(view, dict):
        return str(view)
    if "DescribeKeyError" in view:
        return f"DescribeKey failed: {view['DescribeKeyError']}"
    if "RotationEnabled" in view:
        return f"RotationEnabled={view['RotationEnabled']}"
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


@dataclass
class RunResult:
    run: str
    calls: int
    stopped: str  # "length", "deadlock", "end of trace", "divergence" (replay of a finding)
    divergences: list[Divergence] = field(default_factory=list)
    retired: int = 0  # key sets given up after a divergence the model could not follow


@dataclass
class Report:
    endpoint: str
    settings: Settings
    runs: list[RunResult] = field(default_factory=list)
    # Set when Ctrl-C, SIGTERM, lack of memory or a dead endpoint cut the runs short, e.g.
    # "interrupted during conformance run 3 of 10". The finished runs are reported as usual.
    cut: str = ""
    cut_code: int = EXIT_OK
    coverage: Counter[tuple[str, str]] = field(default_factory=Counter)  # (operation, outcome)
    documented: dict[str, list[str]] = field(default_factory=dict)  # operation -> outcomes
    readings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, what was chosen)
    shrunk: dict[Signature, tuple[list[str], str | None]] = field(default_factory=dict)

    @property
    def divergences(self) -> list[Divergence]:
        return [d for r in self.runs for d in r.divergences]

    @property
    def exit_code(self) -> int:
        if self.cut:
            return self.cut_code
        return EXIT_DIVERGENCE if self.divergences else EXIT_OK

    def findings(self) -> list[Finding]:
        """Distinct divergences (by signature), each with its count and first example."""
        counts: Counter[Signature] = Counter()
        first: dict[Signature, Divergence] = {}
        for d in self.divergences:
            counts[d.signature()] += 1
            first.setdefault(d.signature(), d)
        out = []
        for sig, d in first.items():
            shortest, trace = self.shrunk.get(sig, (None, None))
            out.append(Finding(sig, counts[sig], d, shortest, trace))
        return out

    def not_reached(self) -> list[tuple[str, str]]:
        return [
            (op, outcome)
            for op, outcomes in self.documented.items()
            for outcome in outcomes
            if not self.coverage[(op, outcome)]
        ]

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
            "findings": [f.as_dict() for f in self.findings()],
            "not_implemented": self.not_implemented(),
            "readings": [
                {"rule": rule, "chosen": chosen, "count": n}
                for (rule, chosen), n in sorted(self.readings.items())
            ],
            "coverage": {
                op: {o: self.coverage[(op, o)] for o in outcomes}
                for op, outcomes in self.documented.items()
            },
            "not_reached": [f"{op}: {o}" for op, o in self.not_reached()],
            "run_results": [
                {
                    "run": r.run,
                    "calls": r.calls,
                    "stopped": r.stopped,
                    "retired": r.retired,
                    "divergences": [d.as_dict() for d in r.divergences],
                }
                for r in self.runs
            ],
            "seed": self.settings.seed,
            "exit_code": self.exit_code,
            "cut": self.cut or None,
        }

    def not_implemented(self) -> dict[str, int]:
        return dict(Counter(d.action for d in self.divergences if d.kind == "not implemented"))

    def text(self, limit: int = 30) -> str:
        total = self.divergences
        calls = sum(r.calls for r in self.runs)
        retired = sum(r.retired for r in self.runs)
        lines = [
            f"conform: {len(self.runs)} runs, {calls} calls against {self.endpoint}"
            + (f" ({self.cut}: the runs finished before it)" if self.cut else ""),
            f"divergences: {len(total)}"
            + "".join(f", {k} {n}" for k, n in Counter(d.kind for d in total).items())
            + (f"; key sets resynchronised (retired) {retired} times" if retired else ""),
        ]
        missing = self.not_implemented()
        if missing:
            lines.append(
                "not implemented: " + ", ".join(f"{op} (x{n})" for op, n in missing.items())
            )
        findings = [f for f in self.findings() if f.signature[0] != "not implemented"]
        if findings:
            lines.append(f"distinct findings: {len(findings)}")
            for finding in findings[:limit]:
                lines += finding.lines()
            if len(findings) > limit:
                lines.append(f"  ... and {len(findings) - limit} more (see --json)")
        if self.readings:
            lines.append("readings the endpoint chose where the documents leave a choice open:")
            lines += [f"  {rule}: {chosen} (x{n})" for (rule, chosen), n in self.readings.items()]
        lines += self.coverage_lines()
        seed = self.settings.seed
        lines.append(f"seed: {seed} (rerun with --seed {seed} to reproduce this report)")
        return "\n".join(lines)

    def coverage_lines(self) -> list[str]:
        """Per operation, how often each documented outcome was exercised; the ones never
        reached are named."""
        if not self.documented:
            return []
        lines = ["coverage (operation: documented outcome x times predicted):"]
        for op, outcomes in self.documented.items():
            cells = ", ".join(f"{o} {self.coverage[(op, o)]}" for o in outcomes)
            lines.append(f"  {op}: {cells}")
        missing = self.not_reached()
        lines.append("never reached: " + ("; ".join(f"{op} {o}" for op, o in missing) or "none"))
        return lines
