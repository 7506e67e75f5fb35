"""Workflows: a team's own KMS automation, checked against the model (docs/workflows.md).

A workflow is a plain Python function that *describes* a runbook, step by step, on a
:class:`Workflow`; it runs once, when the model is built, and what it records is compiled into the
KMS model as one more process (:mod:`mrkcheck.lang.process`)::

    @workflow(start=key_with_replicas("us-east-1", "eu-west-1"))
    def failover(w: Workflow) -> None:
        w.call("UpdatePrimaryRegion", r="us-east-1", primary="eu-west-1")
        w.wait("us-east-1", until=lambda v: v.key_type == "REPLICA" and v.enabled)
        w.call("ScheduleKeyDeletion", r="us-east-1")

What the compilation keeps from the model, so that a workflow is judged by the same rules:

- a call is the model's action instance for those parameters: the same guards in the same order,
  so it succeeds with the model's effects exactly when the model says so, and otherwise fails with
  the error of its first failing guard (``Scenario.call``, ``ActionInstance.refusal``; with
  ``guard_order=any``, with the error of any failing guard);
- a wait or a check observes the key as DescribeKey (and GetKeyRotationStatus) may show it: one
  branch per view the documents allow (:func:`mrkcheck.model.observe.may_show`), so a poll may see
  the stale or both-replicas view of a key in Updating;
- the program counter and the counters of bounded retries and polls are state slots.

Three properties per workflow: ``<name>.assertions`` (its checks hold on every view), its calls
fail only where it says how to handle the error (``<name>.no_unexpected_failure``) and it ends
(``<name>.finishes``: under weak fairness of the environment steps and of the workflow's own
steps; the other actors' API calls are never fair).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mrkcheck.errors import UsageError, echo, unknown_name
from mrkcheck.lang.expr import FALSE, Expr, and_, exists, forall, lift, not_, or_
from mrkcheck.lang.model import (
    ActionInstance,
    Invariant,
    LeadsTo,
    Model,
    ModelError,
    Property,
    State,
    Variable,
    instance_label,
    resolve_properties,
)
from mrkcheck.lang.mutation import Mutant
from mrkcheck.lang.process import Branch, Extension, Process
from mrkcheck.lang.scenario import Scenario
from mrkcheck.registry import import_source

from .kms import OPTION_DOCS as KMS_OPTION_DOCS
from .kms import Kms, KmsOptions, declare, option_fields
from .kms import build as build_kms
from .mutants import MUTANTS as KMS_MUTANTS
from .observe import may_show
from .rules import KeyState, Role

ZERO = lift(0)
NEXT, END, RETRY = "<next>", "<end>", "<retry>"  # where an outcome may lead besides a label
DONE = "done"
NOT_FOUND_VIEW = "NotFoundException"  # DescribeKey of a key that does not exist
DETAILS = ("rotation", "primary_region")  # fields of a View a poll is split on only if they matter
_MARK = "__mrkcheck_workflow__"


# --- what a poll sees ------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What DescribeKey (and GetKeyRotationStatus) show of one key, as a workflow reads it.

    ``key_type`` is the MultiRegionKeyType shown (PRIMARY or REPLICA), which during Updating may
    be the stale one or REPLICA for both keys; ``primary_region`` the Region of the PrimaryKey it
    names, which may still be the old primary's during Updating; ``exists`` is false when the call
    fails with NotFoundException. ``rotation`` is what GetKeyRotationStatus returns: this key's
    copy of the shared flag (a replica's lags until a Sync), false while the key is pending
    deletion (§6, ROT), None where the call fails (imported key material:
    UnsupportedOperationException, §4 fn6/fn7)."""

    region: str
    key_state: str
    key_type: str
    rotation: bool | None
    primary_region: str | None = None

    @property
    def exists(self) -> bool:
        return self.key_state != KeyState.Absent.name

    @property
    def enabled(self) -> bool:
        return self.key_state == KeyState.Enabled.name

    def describe(self, fields: Sequence[str] = DETAILS) -> str:
        """``REPLICA/Enabled``, then the ``fields`` of :data:`DETAILS` asked for."""
        if not self.exists:
            return NOT_FOUND_VIEW
        parts = [self.key_type, self.key_state]
        if "rotation" in fields:
            parts.append(
                {True: "rotation on", False: "rotation off", None: "rotation n/a"}[self.rotation]
            )
        if "primary_region" in fields:
            parts.append(f"primary {self.primary_region or 'none'}")
        return "/".join(parts)


ROTATION_VALUES: tuple[bool | None, ...] = (False, True, None)
PENDING = (KeyState.PendingDeletion, KeyState.PendingReplicaDeletion)


def candidate_views(region: str, regions: Sequence[str]) -> list[View]:
    """Every view of a key in ``region`` that some state could show (the model decides which)."""
    views = [View(region, KeyState.Absent.name, Role.NONE.name, False)]
    for state in KeyState:
        if state is KeyState.Absent:
            continue
        for role in (Role.PRIMARY, Role.REPLICA):
            for rot in ROTATION_VALUES:
                views += [View(region, state.name, role.name, rot, p) for p in (*regions, None)]
    return views


def view_allowed(k: Kms, s: str, view: View, fields: Sequence[str] = DETAILS) -> Expr:
    """The documents allow DescribeKey to show ``view`` of the key of set ``s`` in its Region,
    as far as its ``fields`` (of :data:`DETAILS`) go: the others may be anything."""
    r = view.region
    if not view.exists:
        return k.key_state[s, r].eq(KeyState.Absent)
    shown = (
        type_and_primary(k, s, r, view.key_type, view.primary_region)
        if "primary_region" in fields
        else may_show(k, s, r, Role[view.key_type])
    )
    return and_(
        k.key_state[s, r].eq(KeyState[view.key_state]),
        shown,
        rotation_shows(k, s, r, view.rotation) if "rotation" in fields else and_(),
    )


def type_and_primary(k: Kms, s: str, r: str, key_type: str, primary: str | None) -> Expr:
    """DescribeKey in ``r`` may show this MultiRegionKeyType with this PrimaryKey Region
    (:func:`mrkcheck.model.observe.describe_key`): the key's role and the current primary; and
    while an update runs, for a key of the pair, its role before the swap with the old primary,
    or REPLICA with the current one; for another key, its role with the old primary."""
    updating = k.in_state(s, r, KeyState.Updating)
    own = k.role[s, r].eq(Role[key_type])
    stale = k.is_primary(s, r) if key_type == Role.REPLICA.name else k.is_replica(s, r)
    in_pair = or_(
        and_(stale, _names_old_primary(k, s, primary)),
        and_(key_type == Role.REPLICA.name, _names_primary(k, s, primary)),
    )
    return and_(
        k.exists(s, r),
        or_(
            and_(own, _names_primary(k, s, primary)),
            and_(updating, in_pair),
            and_(k.any_updating(s), ~updating, own, _names_old_primary(k, s, primary)),
        ),
    )


def _names_primary(k: Kms, s: str, region: str | None) -> Expr:
    if region is None:
        return forall(k.Region, lambda x: ~k.is_primary(s, x))
    return k.is_primary(s, region)


def _names_old_primary(k: Kms, s: str, region: str | None) -> Expr:
    """``region`` is the demoted key of an update in progress (None: there is none)."""

    def demoted(x: str) -> Expr:
        return and_(k.in_state(s, x, KeyState.Updating), ~k.is_primary(s, x))

    if region is None:
        return ~exists(k.Region, demoted)
    return demoted(region)


def relevant_details(test: Callable[[View], Any], views: Sequence[View]) -> tuple[str, ...]:
    """The fields of :data:`DETAILS` whose value can change what ``test`` says of a view: a poll
    is split on those only, so its branches (and labels) stay few and readable."""
    verdicts = {v: bool(test(v)) for v in views}
    out = []
    for name in DETAILS:
        groups: dict[tuple, set[bool]] = {}
        for v, verdict in verdicts.items():
            others = tuple(getattr(v, f) for f in ("key_state", "key_type", *DETAILS) if f != name)
            groups.setdefault(others, set()).add(verdict)
        if any(len(g) > 1 for g in groups.values()):
            out.append(name)
    return tuple(out)


def rotation_shows(k: Kms, s: str, r: str, value: bool | None) -> Expr:
    """GetKeyRotationStatus on the key of set ``s`` in ``r`` returns ``value`` (None: refused)."""
    if value is None:
        return k.is_external(s)
    on = and_(k.rotation[s, r].eq(1), ~k.in_state(s, r, *PENDING))
    return and_(~k.is_external(s), on if value else ~on)


# --- the language ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """``w.call``: an API call, where each error leads (``on``), how often to retry."""

    action: str
    params: tuple[tuple[str, str], ...]
    on: tuple[tuple[str, str], ...]
    attempts: int | None


@dataclass(frozen=True)
class Observe:
    """``w.wait`` or ``w.check``: DescribeKey on one key, and what its view must satisfy."""

    region: str
    test: Callable[[View], Any]
    message: str
    wait: bool  # a wait polls until ``test``; a check asserts it
    polls: int | None = None
    on_timeout: str | None = None


@dataclass(frozen=True)
class Jump:
    """``w.goto`` (a label) or ``w.end`` (END)."""

    target: str


@dataclass(frozen=True)
class Fail:
    """``w.fail``: reaching it is an assertion failure."""

    message: str


Instruction = Call | Observe | Jump | Fail


@dataclass
class Workflow:
    """The recorder a workflow function writes its runbook on (each method adds one step)."""

    name: str
    key_set: str = "k1"
    steps: list[Instruction] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)

    def call(
        self,
        action: str,
        *,
        on: dict[str, str] | None = None,
        attempts: int | None = None,
        **params: str,
    ) -> None:
        """Call ``action`` on the workflow's key set (``s`` is filled in). ``on`` maps an error
        (``KMSInvalidStateException``) to where to go: a label, ``NEXT``, ``END`` or ``RETRY``
        (the same call again; at most ``attempts`` times when given, then the error is unexpected).
        An error not in ``on`` is an unexpected failure."""
        if attempts is not None and attempts < 1:
            raise UsageError(f"{self.name}: attempts must be at least 1, not {attempts}")
        values = {"s": self.key_set, **params}
        self.steps.append(Call(action, tuple(values.items()), tuple((on or {}).items()), attempts))

    def wait(
        self,
        region: str,
        until: Callable[[View], Any],
        *,
        polls: int | None = None,
        on_timeout: str | None = None,
        message: str = "",
    ) -> None:
        """Poll DescribeKey on the key in ``region`` until a view satisfies ``until``. Every view
        the documents allow may be the one a poll sees. With ``polls``, give up after that many
        polls that did not satisfy it and go to ``on_timeout`` (unset: an unexpected failure):
        no duration of Updating or Creating is documented, so a bounded wait can always time out."""
        if polls is not None and polls < 1:
            raise UsageError(f"{self.name}: polls must be at least 1, not {polls}")
        self.steps.append(Observe(region, until, message, True, polls, on_timeout))

    def check(self, region: str, that: Callable[[View], Any], message: str) -> None:
        """The workflow's assertion: DescribeKey on the key in ``region``, whichever view it
        shows, satisfies ``that`` (``message`` says what is asserted)."""
        self.steps.append(Observe(region, that, message, False))

    def label(self, name: str) -> None:
        """Name the next step, for ``goto`` and ``on``."""
        if name in self.labels or name in (NEXT, END, RETRY):
            raise UsageError(f"{self.name}: label {name!r} is used twice")
        self.labels[name] = len(self.steps)

    def goto(self, name: str) -> None:
        self.steps.append(Jump(name))

    def fail(self, message: str) -> None:
        """Reaching this step is an assertion failure (a branch the runbook says never happens)."""
        self.steps.append(Fail(message))

    def end(self) -> None:
        self.steps.append(Jump(END))


@dataclass(frozen=True)
class WorkflowSpec:
    """A function marked with :func:`workflow`: its name, the calls that set up the keys before
    it starts (labels as traces print them), and the key set it works on."""

    name: str
    body: Callable[[Workflow], None]
    start: tuple[str, ...] = ()
    key_set: str = "k1"

    def record(self, name: str | None = None) -> Workflow:
        """Run the function once on a fresh recorder: its steps are the runbook."""
        w = Workflow(name or self.name, self.key_set)
        try:
            self.body(w)
        except (UsageError, ModelError):
            raise
        except Exception as exc:  # noqa: BLE001 - the user's function failing is bad input
            raise UsageError(
                f"workflow {self.name} fails while its steps are recorded: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        return w


def workflow(
    fn: Callable[[Workflow], None] | None = None,
    *,
    start: Sequence[str] = (),
    key_set: str = "k1",
    name: str | None = None,
) -> Any:
    """Mark a function as a workflow: ``@workflow`` or ``@workflow(start=[...])``. ``start``
    lists the calls and environment steps that set the keys up before it runs, written as a trace
    labels them (``"ReplicateKey(r=us-east-1, replica=eu-west-1)"``, ``s`` defaulting to
    ``key_set``)."""

    def mark(body: Callable[[Workflow], None]) -> Callable[[Workflow], None]:
        spec = WorkflowSpec(name or body.__name__, body, tuple(start), key_set)
        setattr(body, _MARK, spec)
        return body

    return mark(fn) if fn is not None else mark


def key_with_replicas(primary: str, *replicas: str, origin: str = "AWS_KMS") -> tuple[str, ...]:
    """Start steps for the usual set-up: a primary key in ``primary`` and an Enabled replica in
    each of ``replicas`` (each created, then finished Creating)."""
    steps = [f"CreateKey(r={primary}, origin={origin})"]
    for replica in replicas:
        steps += [f"ReplicateKey(r={primary}, replica={replica})", f"CompleteCreate(r={replica})"]
    return tuple(steps)


def load_workflows(source: str) -> list[WorkflowSpec]:
    """The workflows of ``file.py``, ``file.py:name``, ``module`` or ``module:name``: every
    workflow a file or module defines (they run concurrently), or the one named."""
    location, _, attr = source.rpartition(":") if ":" in source else (source, "", "")
    module = import_source(location, "workflow")
    found = {
        spec.name: spec
        for value in vars(module).values()
        if (spec := getattr(value, _MARK, None)) is not None
    }
    if attr:
        if attr not in found:
            raise UsageError(
                unknown_name("workflow", attr, found, f"{location} defines no such workflow")
            )
        return [found[attr]]
    if not found:
        raise UsageError(f"{echo(location)} defines no workflow (mark one with @workflow)")
    return list(found.values())


# --- compiling a workflow into the model ----------------------------------------------------------


_LABEL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")


def parse_label(text: str, key_set: str) -> tuple[str, dict[str, str]]:
    """``"ReplicateKey(r=us-east-1, replica=eu-west-1)"`` as (action, params), ``s`` filled in."""
    match = _LABEL.match(text)
    if match is None:
        raise UsageError(f"a start step looks like Action(name=value, ...), not {echo(text)}")
    params = {"s": key_set}
    for part in filter(None, (p.strip() for p in match.group(2).split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"start step {echo(text)}: {echo(part)} is not name=value")
        params[key.strip()] = value.strip()
    return match.group(1), params


def start_state(model: Model, steps: Sequence[str], key_set: str) -> State:
    """The state the start steps lead to from the model's initial state; each must be enabled."""
    scenario = Scenario(model)
    for text in steps:
        action, params = parse_label(text, key_set)
        _instance(model, action, params, "start step")
        try:
            scenario.do(action, **params)
        except ModelError as exc:
            raise UsageError(f"start step {text}: {exc}") from None
    return scenario.state


REGION_PARAMS = ("r", "replica", "primary")  # the parameters of model/actions.py that are Regions


def _instance(model: Model, action: str, params: dict[str, str], where: str) -> ActionInstance:
    label = instance_label(action, params.items())
    if action not in model.action_names:
        raise UsageError(f"{where}: {unknown_name('action', action, model.action_names)}")
    regions = model.universe("Region").elements
    for name in REGION_PARAMS:
        if name in params and params[name] not in regions:
            raise UsageError(
                f"{where}: {action}: {unknown_name('Region', params[name], regions)} (this "
                f"instance has {', '.join(regions)}: set --regions)"
            )
    for inst in model.instances:
        if inst.label == label:
            return inst
    wanted = [i.label for i in model.instances if i.action == action]
    raise UsageError(f"{where}: {unknown_name('call', label, wanted, 'check the parameters')}")


@dataclass(frozen=True)
class _Bound:
    """A bounded retry or poll: its counter slot, how many tries, how the last failed try is
    labelled, and where it goes (a location, or None: the workflow fails as ``end``)."""

    counter: Variable
    limit: int
    params: tuple
    then: str | None
    end: str


@dataclass
class _Compiler:
    """Turns one recorded workflow into a :class:`Process` of the extended model."""

    model: Model
    kms: Kms
    ext: Extension
    w: Workflow
    process: Process = field(init=False)
    assertion_ends: list[str] = field(default_factory=list)
    failure_ends: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.process = Process(self.w.name)

    def compile(self) -> Process:
        if not self.w.steps:
            raise UsageError(f"workflow {self.w.name} has no steps")
        for i, step in enumerate(self.w.steps):
            here = self._loc(i)
            self.process.at(here)
            if isinstance(step, Call):
                self._call(i, step)
            elif isinstance(step, Observe):
                self._observe(i, step)
            elif isinstance(step, Jump):
                self.process.at(here).append(
                    Branch("goto", (("at", here),), and_(), self._target(step.target, i))
                )
            else:
                self._branch_to_end(
                    here, "fail", (("at", here),), and_(), f"failed: {step.message}", True
                )
        self.process.ends = (DONE, *self.assertion_ends, *self.failure_ends)
        return self.process

    def _loc(self, i: int) -> str:
        return str(i + 1) if i < len(self.w.steps) else DONE

    def _target(self, target: str, i: int) -> str:
        if target == NEXT:
            return self._loc(i + 1)
        if target == END:
            return DONE
        if target not in self.w.labels:
            known = list(self.w.labels)
            raise UsageError(
                f"{self.w.name}: {unknown_name('label', target, known, 'no such label')}"
            )
        return self._loc(self.w.labels[target])

    def _branch_to_end(
        self, here: str, action: str, params: tuple, condition: Expr, end: str, assertion: bool
    ) -> None:
        ends = self.assertion_ends if assertion else self.failure_ends
        if end not in ends:
            ends.append(end)
        self.process.at(here).append(Branch(action, params, condition, end))

    # --- calls --------------------------------------------------------------------------------

    def _call(self, i: int, step: Call) -> None:
        here = self._loc(i)
        inst = _instance(self.model, step.action, dict(step.params), f"workflow {self.w.name}")
        if inst.environment:
            raise UsageError(
                f"workflow {self.w.name}: {step.action} is a step KMS takes on its own, not a "
                "call (wait for what it does instead)"
            )
        counter = self._counter(i, step.attempts) if step.attempts else None
        reset = ((counter.ref, ZERO),) if counter else ()
        params = (*step.params, ("at", here))
        self.process.at(here).append(
            Branch(step.action, params, inst.enabled, self._loc(i + 1), (*inst.effects, *reset))
        )
        handlers = dict(step.on)
        outcomes = self._outcomes(inst)
        errors = [error for error, _ in outcomes]
        for error in handlers:
            if error not in errors:
                hint = f"{step.action} can return {', '.join(errors)}"
                raise UsageError(
                    f"{self.w.name} step {here}: {unknown_name('error', error, errors, hint)}"
                )
        for error, condition in outcomes:
            outcome = (*params, ("error", error))
            target = handlers.get(error)
            if target is None:
                self._branch_to_end(
                    here, step.action, outcome, condition, f"unexpected {error}", False
                )
            elif target != RETRY:
                self.process.at(here).append(
                    Branch(step.action, outcome, condition, self._target(target, i), reset)
                )
            elif counter is None or step.attempts is None:
                self.process.at(here).append(Branch(step.action, outcome, condition, here))
            else:
                again = (*outcome, ("retry", "yes"))
                bound = _Bound(counter, step.attempts, outcome, None, f"unexpected {error}")
                self._again(here, step.action, again, condition, bound)

    def _outcomes(self, inst: ActionInstance) -> list[tuple[str, Expr]]:
        """Each error the call can return, with the condition under which it does: its guard is
        the first to fail (``guard_order=any``: any failing guard's error may be returned)."""
        conditions: dict[str, list[Expr]] = {}
        any_order = self.model.option("guard_order", "documented") == "any"
        for n, guard in enumerate(inst.guards):
            error = guard.error or "refused"
            before = and_(*(g.condition for g in inst.guards[:n]))
            fails = not_(guard.condition) if any_order else and_(before, not_(guard.condition))
            conditions.setdefault(error, []).append(fails)
        return [(error, or_(*parts)) for error, parts in conditions.items()]

    def _counter(self, i: int, bound: int) -> Variable:
        return self.ext.variable(f"{self.w.name}.tries@{i + 1}", range(0, bound))

    # --- observations -------------------------------------------------------------------------

    def _observe(self, i: int, step: Observe) -> None:
        here, s = self._loc(i), self.w.key_set
        if step.region not in self.kms.Region.elements:
            raise UsageError(
                f"{self.w.name}: {unknown_name('Region', step.region, self.kms.Region.elements)}"
            )
        counter = self._counter(i, step.polls) if step.polls else None
        views = candidate_views(step.region, self.kms.Region.elements)
        verdicts = {v: self._satisfies(step, v) for v in views}
        fields = relevant_details(verdicts.__getitem__, views)
        shown: dict[str, View] = {}  # one view per label: the fields that matter, no others
        for v in views:
            shown.setdefault(v.describe(fields), v)
        for label, view in shown.items():
            seen = view_allowed(self.kms, s, view, fields)
            params = (("s", s), ("r", step.region), ("saw", label), ("at", here))
            if verdicts[view]:
                reset = ((counter.ref, ZERO),) if counter else ()
                self.process.at(here).append(
                    Branch("DescribeKey", params, seen, self._loc(i + 1), reset)
                )
            elif not step.wait:
                self._branch_to_end(
                    here, "DescribeKey", params, seen, f"failed: {step.message}", True
                )
            elif counter is None:
                self.process.at(here).append(Branch("DescribeKey", params, seen, here))
            else:
                self._poll_again(i, step, counter, params, seen)

    def _poll_again(self, i: int, step: Observe, counter: Any, params: tuple, seen: Expr) -> None:
        assert step.polls is not None
        timeout = (*params, ("timeout", "yes"))
        target = None if step.on_timeout is None else self._target(step.on_timeout, i)
        bound = _Bound(counter, step.polls, timeout, target, "timed out")
        self._again(self._loc(i), "DescribeKey", params, seen, bound)

    def _again(self, here: str, action: str, params: tuple, condition: Expr, b: _Bound) -> None:
        """Try again (stay ``here``, count one more) while the count is below the bound; the last
        try that fails goes to ``b.then`` (the count reset), or ends the workflow as ``b.end``."""
        more = and_(condition, b.counter.ref.lt(b.limit - 1))
        bump = ((b.counter.ref, b.counter.ref + 1),)
        self.process.at(here).append(Branch(action, params, more, here, bump))
        last = and_(condition, b.counter.ref.ge(b.limit - 1))
        if b.then is None:
            self._branch_to_end(here, action, b.params, last, b.end, False)
        else:
            reset = ((b.counter.ref, ZERO),)
            self.process.at(here).append(Branch(action, b.params, last, b.then, reset))

    def _satisfies(self, step: Observe, view: View) -> bool:
        try:
            return bool(step.test(view))
        except Exception as exc:  # noqa: BLE001 - the user's predicate failing is bad input
            what = step.message or ("the wait condition" if step.wait else "the check")
            raise UsageError(
                f"{self.w.name}: {what} fails on the view {view.describe()} of {view.region}: "
                f"{type(exc).__name__}: {exc}"
            ) from None


# --- the model of workflows -----------------------------------------------------------------------

OTHERS = ("none", "any")


def compose(
    base: Model,
    kms: Kms,
    workflows: str = "",
    others: str = "none",
    copies: int = 1,
    user: Iterable[Property] = (),
) -> Model:
    """The KMS model ``base`` with the workflows as processes, the other actors' calls as
    ``others`` says, and their properties (with ``user``'s) instead of the model's."""
    specs = [spec for source in _sources(workflows) for spec in load_workflows(source)]
    if others not in OTHERS and ":" not in others and not others.endswith(".py"):
        hint = "others is none, any, or a workflow: FILE.py or MODULE:NAME"
        raise UsageError(unknown_name("choice for others", others, OTHERS, hint))
    other_specs = [] if others in OTHERS else load_workflows(others)
    if copies < 1:
        raise UsageError(f"copies must be at least 1, not {copies}")
    starts = {(spec.start, spec.key_set) for spec in [*specs, *other_specs] if spec.start}
    if len(starts) > 1:
        raise UsageError("the workflows checked together must have the same start steps")
    start, key_set = next(iter(starts), ((), "k1"))
    initial = start_state(base, start, key_set)
    ext = Extension(base, "workflow")
    mine = [
        _compile(base, kms, ext, spec.record(_copy_name(spec, c, copies)))
        for spec in specs
        for c in range(copies)
    ]
    theirs = [_compile(base, kms, ext, spec.record(f"other {spec.name}")) for spec in other_specs]
    processes = [c.process for c in (*mine, *theirs)]
    properties = [*_workflow_properties(ext, mine), *user]
    finished = and_(*(ext.at_location(p, *p.ends) for p in processes))
    keep_all = others == "any"
    return ext.build(
        processes,
        keep=lambda inst: keep_all or inst.environment,
        fair=True,
        properties=properties,
        initial=[initial],
        finished=finished,
    )


def _sources(workflows: str) -> list[str]:
    return [s.strip() for s in workflows.split(",") if s.strip()]


def _copy_name(spec: WorkflowSpec, copy: int, copies: int) -> str:
    return spec.name if copies == 1 else f"{spec.name}#{copy + 1}"


def _compile(base: Model, kms: Kms, ext: Extension, w: Workflow) -> _Compiler:
    compiler = _Compiler(base, kms, ext, w)
    compiler.compile()
    return compiler


def _workflow_properties(ext: Extension, compiled: list[_Compiler]) -> list[Property]:
    """Per workflow (all its copies together): assertions, no unexpected failure, finishes."""
    by_name: dict[str, list[_Compiler]] = {}
    for c in compiled:
        by_name.setdefault(c.w.name.split("#")[0], []).append(c)
    out: list[Property] = []
    for name, group in by_name.items():
        asserts = [ext.at_location(c.process, *c.assertion_ends) for c in group if c.assertion_ends]
        failures = [ext.at_location(c.process, *c.failure_ends) for c in group if c.failure_ends]
        if asserts:
            out.append(
                Invariant(
                    f"{name}.assertions",
                    not_(or_(*asserts)),
                    rule="the workflow's own checks",
                    doc="every check of the workflow holds, whichever view DescribeKey shows",
                )
            )
        out.append(
            Invariant(
                f"{name}.no_unexpected_failure",
                not_(or_(*failures)) if failures else not_(FALSE),
                rule="every error a call can return is handled",
                doc="no call fails with an error the workflow does not handle; no bounded wait "
                "times out unhandled",
            )
        )
        ends = [ext.at_location(c.process, *c.process.ends) for c in group]
        out.append(
            LeadsTo(
                f"{name}.finishes",
                ((None, and_(*ends)),),
                rule="weak fairness of the environment and of the workflow's steps",
                doc="the workflow reaches its end (or a failure) on every fair run",
            )
        )
    return out


def user_properties(source: str, kms: Kms) -> list[Property]:
    """The properties a user's module adds: its ``properties(k)`` function, given the model's
    handles (:class:`~mrkcheck.model.kms.Kms`), returns a list of them."""
    module = import_source(source, "properties")
    make = getattr(module, "properties", None)
    if not callable(make):
        raise UsageError(f"{echo(source)} has no function properties(k) returning properties")
    try:
        found = list(make(kms))
    except (ModelError, UsageError):
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code failing is bad input
        raise UsageError(
            f"{echo(source)}: properties(k) fails: {type(exc).__name__}: {exc}"
        ) from None
    for prop in found:
        if not isinstance(prop, Property):
            raise UsageError(
                f"{echo(source)}: properties(k) returned {echo(repr(prop))}, not a property"
            )
    return found


# --- the model factory: the registry's "workflow" model -------------------------------------------


def build(
    *,
    workflow: str = "",
    others: str = "none",
    copies: int = 1,
    properties_from: str = "",
    _kms: Callable[..., Model] = build_kms,
    **options: Any,
) -> Model:
    """The KMS model with workflows (``workflow``: comma-separated sources) and user properties
    (``properties_from``). Without a workflow it is the KMS model with its properties, plus the
    user's; with one, the workflows' properties and the user's are checked."""
    kms = declare(KmsOptions(**options))[1]
    base = _kms(**options)
    user = user_properties(properties_from, kms) if properties_from else []
    if not _sources(workflow):
        if others != "none" or copies != 1:
            raise UsageError("others and copies need a workflow")
        props = resolve_properties([*base.properties, *user], base.instances)
        return _recorded(
            replace(base.with_properties(props), name="workflow"),
            {"properties_from": properties_from},
        )
    model = compose(base, kms, workflow, others, copies, user)
    own = {
        "workflow": workflow,
        "others": others,
        "copies": copies,
        "properties_from": properties_from,
    }
    return _recorded(model, own)


def _recorded(model: Model, own: dict[str, Any]) -> Model:
    """The model with this factory's options recorded (where they differ from the defaults), so
    that a trace's header rebuilds the same model (``mrkcheck trace show|check``)."""
    defaults = {p.name: p.default for p in _OWN}
    changed = {k: v for k, v in own.items() if v != defaults[k]}
    return replace(model, options=tuple(sorted({**dict(model.options), **changed}.items())))


# Read by `mrkcheck list options workflow`: this model's own options, then the KMS model's.
OPTION_DOCS = {
    "workflow": "workflows to check: FILE.py, FILE.py:NAME or MODULE:NAME, comma-separated "
    "(every @workflow of a file runs concurrently)",
    "others": "other actors: none (default), any (any API call at any moment), or a workflow "
    "run alongside",
    "copies": "copies of each workflow run at once (default 1)",
    "properties_from": "a Python file or module whose properties(k) adds properties",
    **KMS_OPTION_DOCS,
}

_OWN = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
    for name, default, kind in (
        ("workflow", "", str),
        ("others", "none", str),
        ("copies", 1, int),
        ("properties_from", "", str),
    )
]
build.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    _OWN
    + [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type
        )
        for f in option_fields()
    ],
    return_annotation=Model,
)


def _mutant(kms_mutant: Mutant) -> Mutant:
    def build_mutant(**options: Any) -> Model:
        return build(_kms=kms_mutant.build, **options)

    return Mutant(kms_mutant.name, kms_mutant.description, kms_mutant.breaks, build_mutant)


# The KMS model's seeded bugs, under workflows and user properties (a project's mutant entries).
MUTANTS = [_mutant(m) for m in KMS_MUTANTS]
