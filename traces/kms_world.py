"""The world behind ``mrkcheck serve``: runs of the KMS model, the keys' IDs, a simulated clock
and the environment steps that happen on their own, behind one lock.

Keys are unbounded on a server but a model instance has at most three key sets, so the keys are
dealt out to *instances*: key 1 is ``k1`` of instance 1, key 4 is ``k1`` of instance 2, and so
on. Key sets never interact in the model (a step of one changes no slot of another), so the
server's behaviour is the product of these runs, and each instance's run is a run of the model
that ``mrkcheck trace check`` accepts. A client that makes at most three keys (the usual test)
gets one trace.

Environment steps (KMS finishing a creation or an update, copying shared properties, starting
the primary's deletion once its replicas are gone) are taken by :meth:`World.catch_up`, called
before and after every request, when they have been enabled for the mode's delay. Deletions and
expiring material come due on the simulated clock (``/_mrkcheck/advance?days=7``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mrkcheck.lang.model import ActionInstance, Guard, Model, instance_label
from mrkcheck.lang.scenario import Scenario
from mrkcheck.model.conformance import model_bound
from mrkcheck.model.observe import describe_key
from mrkcheck.traces.conform_fake import ACCOUNT, EAGER, REFUSED_AS
from mrkcheck.traces.itf import to_itf

MODES = ("fast", "realistic", "adversarial", "manual")
DEFAULT_DELAY = {"fast": 0.0, "realistic": 2.0, "adversarial": 10.0, "manual": math.inf}
DAY = 86400.0
STATE_FORMAT = "mrkcheck-serve-state/1"


class Refused(Exception):
    """A call the model refuses: the exception KMS returns and a message saying which rule."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class StateFileError(Exception):
    """A ``--state`` file that cannot be used (one line for the command line)."""


@dataclass(frozen=True)
class ServeConfig:
    """What the server models: the instance, the mutant, the transients mode."""

    regions: str = "3"  # as --regions takes it: a number or Region names
    options: tuple[tuple[str, Any], ...] = ()
    mutant: str | None = None
    transients: str = "fast"
    delay: float | None = None  # seconds a transient is held; None: the mode's default
    key_sets: int = 3  # per model instance
    max_keys: int = 300  # KMS answers LimitExceededException beyond its quota; so do we

    def hold(self) -> float:
        return DEFAULT_DELAY[self.transients] if self.delay is None else self.delay

    def identity(self) -> dict[str, Any]:
        """What a state file must agree with to be loaded."""
        return {
            "regions": self.regions,
            "options": {k: v for k, v in self.options},
            "mutant": self.mutant,
            "key_sets": self.key_sets,
        }


@dataclass
class Key:
    """One key set as the server knows it: its ID, where it lives, and what the model does not
    keep (descriptions, dates, deletion windows, imported material)."""

    number: int
    key_id: str
    instance: int
    key_set: str
    origin: str
    descriptions: dict[str, str] = field(default_factory=dict)  # Region -> its key's Description
    created: dict[str, float] = field(default_factory=dict)  # Region -> creation time
    windows: dict[str, int] = field(default_factory=dict)  # Region -> PendingWindowInDays
    material: str | None = None  # hex of imported material (EXTERNAL keys)
    rotation_period: int = 365  # days between automatic rotations (EnableKeyRotation)


@dataclass
class Instance:
    """One model instance's run, and the requests it answered (for the trace header)."""

    scenario: Scenario
    requests: list[dict[str, Any]] = field(default_factory=list)


class Clock:
    """Simulated time in seconds since the epoch: real time (frozen in manual mode) plus what
    ``/_mrkcheck/advance`` added."""

    def __init__(self, start: float | None = None, running: bool = True) -> None:
        self.base = time.time() if start is None else start
        self.started = time.monotonic()
        self.running = running
        self.offset = 0.0

    def now(self) -> float:
        elapsed = time.monotonic() - self.started if self.running else 0.0
        return self.base + elapsed + self.offset

    def advance(self, days: float) -> None:
        self.offset += days * DAY


class World:
    """Every key and run, the clock, and the pending environment steps; callers hold ``lock``."""

    def __init__(self, config: ServeConfig, build: Callable[..., Model], secret: bytes) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.secret = secret
        options = dict(config.options)
        options.setdefault("max_versions", 5)  # the model's rotation bound, not KMS's quota
        self.model = build(
            regions=config.regions,
            key_sets=config.key_sets,
            with_properties=False,
            **options,
        )
        self.regions = tuple(self.model.universe("Region").elements)
        self.key_set_names = tuple(self.model.universe("KeySet").elements)
        self.instances_by_label = {i.label: i for i in self.model.instances}
        self.eager: dict[str, list[ActionInstance]] = {
            s: [
                i
                for i in self.model.instances
                if i.environment and i.action in EAGER and i.param("s") == s
            ]
            for s in self.key_set_names
        }
        self.reset()

    def reset(self) -> None:
        self.runs: list[Instance] = []
        self.keys: list[Key] = []
        self.by_id: dict[str, Key] = {}
        self.clock = Clock(running=self.config.transients != "manual")
        self.dues: dict[tuple[str, int, str], float] = {}  # (action, key, Region) -> time
        self.since: dict[tuple[int, str], float] = {}  # (run, label) -> enabled since
        self.busy: set[tuple[int, str]] = set()  # (run, key set) with steps maybe pending
        self.polled: set[tuple[int, str]] = set()  # (key, Region) shown a view in this update

    # --- keys ---------------------------------------------------------------------------------

    def key_id(self, number: int) -> str:
        digest = hashlib.blake2b(f"{number}".encode(), key=self.secret[:64], digest_size=16)
        return f"mrk-{digest.hexdigest()}"

    def arn(self, key: Key, region: str) -> str:
        """The key's ARN in ``region``, in that Region's partition (aws, aws-cn)."""
        universe = self.model.universe("Region")
        partition = universe.classes[universe.position(region)] if universe.classes else "aws"
        return f"arn:{partition}:kms:{region}:{ACCOUNT}:key/{key.key_id}"

    def new_key(self, origin: str) -> Key:
        """The next free key set (a new model instance when the last one is full)."""
        number = len(self.keys)
        if number >= self.config.max_keys:
            raise Refused("LimitExceededException", f"this server holds at most {number} keys")
        run, index = divmod(number, len(self.key_set_names))
        self.ensure_run(run)
        return Key(number, self.key_id(number), run, self.key_set_names[index], origin)

    def ensure_run(self, run: int) -> None:
        """Instances up to ``run`` exist (an instance starts in the model's initial state)."""
        while len(self.runs) <= run:
            self.runs.append(Instance(Scenario(self.model)))

    def register(self, key: Key) -> None:
        self.keys.append(key)
        self.by_id[key.key_id] = key

    def value(self, key: Key, variable: str, region: str | None = None) -> str:
        index = (key.key_set,) if region is None else (key.key_set, region)
        return self.runs[key.instance].scenario.value(variable, *index)

    def views(self, key: Key, region: str) -> list[dict[str, Any]]:
        """The DescribeKey views the model allows for the key in ``region`` ([]: none there)."""
        return describe_key(self.model, self.runs[key.instance].scenario.state, key.key_set, region)

    # --- model steps --------------------------------------------------------------------------

    def apply(self, key: Key, action: str, **params: str) -> None:
        """Take the API action if the model allows it, else raise :class:`Refused` with the
        exception the model predicts."""
        scenario = self.runs[key.instance].scenario
        label = instance_label(action, [("s", key.key_set), *params.items()])
        inst = self.instances_by_label[label]
        guard = inst.refusal(scenario.state)
        if guard is not None:
            message = refusal_message(action, guard, lambda r: self.arn(key, r), params)
            raise Refused(refusal_error(action, guard), message)
        self._take(key.instance, inst)

    def _take(self, run: int, inst: ActionInstance) -> None:
        scenario = self.runs[run].scenario
        scenario.call(inst.action, **dict(inst.params))
        self.since.pop((run, inst.label), None)
        self.busy.add((run, inst.param("s")))
        self._track_deletions(run, inst.param("s"))

    def _track_deletions(self, run: int, key_set: str) -> None:
        """A key that entered PendingDeletion gets its due time; one that left it loses it."""
        key = self.key_of(run, key_set)
        if key is None:
            return
        for region in self.regions:
            due = ("DeletionDue", key.number, region)
            if self.value(key, "key_state", region) == "PendingDeletion":
                days = key.windows.get(region, 30)
                self.dues.setdefault(due, self.clock.now() + days * DAY)
            else:
                self.dues.pop(due, None)

    def key_of(self, run: int, key_set: str) -> Key | None:
        number = run * len(self.key_set_names) + self.key_set_names.index(key_set)
        return self.keys[number] if number < len(self.keys) else None

    def catch_up(self) -> None:
        """Take the environment steps whose time has come: deletions and expiries due on the
        simulated clock, then transients enabled for at least the mode's delay."""
        now = self.clock.now()
        while True:
            ready = sorted((t, d) for d, t in self.dues.items() if t <= now)
            if not ready:
                break
            for due, (action, number, region) in ready:
                del self.dues[(action, number, region)]
                key = self.keys[number]
                if action == "AutomaticRotation":
                    self._rotate(key, due)
                else:
                    self.take_if_enabled(key.instance, f"{action}(s={key.key_set}, r={region})")
        hold = self.config.hold()
        if math.isinf(hold):
            return
        for run, key_set in sorted(self.busy):
            if not self._settle(run, key_set, hold, time.monotonic()):
                self.busy.discard((run, key_set))

    def schedule_rotation(self, key: Key, on: bool) -> None:
        """Automatic rotation every ``rotation_period`` days of the simulated clock (§3.7)."""
        due = ("AutomaticRotation", key.number, "")
        if not on:
            self.dues.pop(due, None)
        elif due not in self.dues:
            self.dues[due] = self.clock.now() + key.rotation_period * DAY

    def _rotate(self, key: Key, due: float) -> None:
        """The primary rotates if the model lets it (not while disabled, nor past the model's
        bound on versions); the next rotation is due a period later while the flag is on."""
        primary = next((r for r in self.regions if self.value(key, "role", r) == "PRIMARY"), None)
        if primary is None or self.value(key, "rotation", primary) != "true":
            return
        self.take_if_enabled(key.instance, f"AutomaticRotation(s={key.key_set}, r={primary})")
        self.dues[("AutomaticRotation", key.number, "")] = due + key.rotation_period * DAY

    def take_if_enabled(self, run: int, label: str) -> bool:
        inst = self.instances_by_label[label]
        state = self.runs[run].scenario.state
        if inst.refusal(state) is None and inst.apply(state) != state:
            self._take(run, inst)
            return True
        return False

    def _settle(self, run: int, key_set: str, hold: float, now: float) -> bool:
        """Take the key set's transients enabled for ``hold`` seconds; whether some still wait.
        A step that a taken one enabled counts its wait from the moment that one was due. A
        step enabled that changes nothing (a mutant's) is never taken, or this would not end."""
        moment = now
        while True:
            ready = None
            waiting = False
            state = self.runs[run].scenario.state
            for inst in self.eager[key_set]:
                if inst.refusal(state) is None and inst.apply(state) != state:
                    since = self.since.setdefault((run, inst.label), moment)
                    if now - since >= hold:
                        ready, moment = inst, since + hold  # when it happened
                        break
                    waiting = True
                else:
                    self.since.pop((run, inst.label), None)
            if ready is None:
                return waiting
            self._take(run, ready)

    def pending(self, key: Key) -> list[str]:
        """The environment steps enabled for the key's set, the ones ``/_mrkcheck/step`` takes."""
        state = self.runs[key.instance].scenario.state
        return [
            i.label
            for i in self.model.instances
            if i.environment
            and i.param("s") == key.key_set
            and i.refusal(state) is None
            and i.apply(state) != state
        ]

    # --- traces and state files ---------------------------------------------------------------

    def itf(self, run: int) -> dict[str, Any]:
        """One instance's run as an ITF document, the requests it answered in its header."""
        scenario = self.runs[run].scenario
        doc = to_itf(scenario.trace())
        keys = [k for k in self.keys if k.instance == run]
        doc["#meta"]["description"] += " (mrkcheck serve)"
        if self.config.mutant:  # replayed on the mutant served, as trace check reads it
            doc["#meta"]["options"]["mutant"] = self.config.mutant
        doc["#meta"]["keys"] = {k.key_set: k.key_id for k in keys}
        doc["#meta"]["transients"] = self.config.transients
        doc["#meta"]["requests"] = self.runs[run].requests
        return doc

    def save(self, path: Path) -> None:
        """Everything a restart needs, written atomically (a crash leaves the old file)."""
        data = {
            "format": STATE_FORMAT,
            "config": self.config.identity(),
            "secret": self.secret.hex(),
            "clock": self.clock.now(),
            "keys": [asdict(k) for k in self.keys],
            "runs": [
                {"steps": [s.label for s in r.scenario.trace().steps[1:]], "requests": r.requests}
                for r in self.runs
            ],
            "dues": [[a, n, r, t] for (a, n, r), t in sorted(self.dues.items())],
        }
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != STATE_FORMAT:
                raise StateFileError(f"{path}: not a mrkcheck serve state file")
            if data["config"] != self.config.identity():
                raise StateFileError(
                    f"{path} was written by a server with {json.dumps(data['config'])}; "
                    f"start it with the same --regions, -D, --mutant and --key-sets"
                )
            self.secret = bytes.fromhex(data["secret"])
            self.reset()
            self.clock.base = float(data["clock"])
            for k in data["keys"]:
                self.register(Key(**k))
            for saved in data["runs"]:
                run = Instance(Scenario(self.model), list(saved["requests"]))
                for label in saved["steps"]:
                    inst = self.instances_by_label[label]
                    if inst.refusal(run.scenario.state) is not None:
                        raise StateFileError(f"{path}: {label} is not a step of the model here")
                    run.scenario.call(inst.action, **dict(inst.params))
                self.runs.append(run)
            self.dues = {(a, int(n), r): float(t) for a, n, r, t in data["dues"]}
            self.busy = {(k.instance, k.key_set) for k in self.keys}
        except StateFileError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"{path}: unreadable state file ({exc})") from None


def refusal_error(action: str, guard: Guard) -> str:
    """The exception KMS returns for a refusal: the guard's; for a guard that names none (a key
    ID the model has no room for, no ciphertext) the one KMS gives; for the model's bound on
    rotations, the quota's LimitExceededException."""
    if model_bound(guard):
        return "LimitExceededException"
    return guard.error or REFUSED_AS.get(action, "KMSInvalidStateException")


# KMS's messages for the §4 footnotes (docs/semantics.md), after the key's ARN.
FOOTNOTE_MESSAGES = {
    "fn1": "is disabled.",
    "fn2": "is pending deletion.",
    "fn3": "is pending deletion.",
    "fn4": "is not pending deletion.",
    "fn5": "is pending import.",
    "fn14": "is creating.",
    "fn15": "is updating.",
}


def refusal_message(action: str, guard: Guard, arn: Callable[[str], str], params: dict) -> str:
    """KMS's wording where §4 gives it (``<ARN> is disabled.``, the ARN of the key whose state
    refused the call), else the guard's; the rule that refused the call in brackets."""
    identity = guard.identity
    text = f"{action} refused: {guard.doc or 'not allowed in this state'}"
    if identity is not None and identity.footnote in FOOTNOTE_MESSAGES:
        region = params["primary"] if identity.case == "target replica" else params["r"]
        text = f"{arn(region)} {FOOTNOTE_MESSAGES[identity.footnote]}"
    if identity is None:
        return text
    cell = " ".join(x for x in (identity.key_state, identity.footnote) if x)
    return f"{text} [{identity.rule}{' ' + cell if cell else ''}]"
