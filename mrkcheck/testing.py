"""Model-checking assertions for a test suite: your properties and models, checked by pytest.

A team that encodes its automation's assumptions as properties wants them in the tests it already
runs, with the counterexample in the failure message rather than in a separate CI step::

    from mrkcheck.testing import assert_holds, assert_violated

    def test_one_primary_on_four_regions():
        assert_holds("kms", "one_primary_per_key_set", regions=4)

    def test_the_demotion_bug_is_caught():
        trace = assert_violated("kms", "one_primary_per_key_set", mutant="promote_before_demote",
                                max_length=4)

Both take a model as a built :class:`~mrkcheck.lang.model.Model`, a factory (a function returning one),
or a factory's name (``"kms"``, ``"twophase"``, ``"package.module:function"``); universe options are
keyword arguments passed to the factory. A property is a name, a
:class:`~mrkcheck.lang.model.Property`, a function from the built model to a Property (for your own
properties over the model's variables), or a list of these. A failing assertion raises
``AssertionError`` whose message holds the readable counterexample table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from mrkcheck.check.checker import Checker
from mrkcheck.check.report import trace_table
from mrkcheck.check.result import HOLDS, UNKNOWN, VIOLATED, CheckResult, PropertyResult, Trace
from mrkcheck.ci.reports import counterexample_text
from mrkcheck.errors import UsageError
from mrkcheck.lang.model import EVENTUALLY, Model, Property, resolve_properties
from mrkcheck.registry import load_factory, load_mutants

ModelLike = Model | str | Callable[..., Model]
PropertyLike = str | Property | Callable[[Model], Property]

__all__ = ["assert_holds", "assert_violated", "model_for", "ModelLike", "PropertyLike"]


def assert_holds(
    model_or_factory: ModelLike,
    property: PropertyLike | Sequence[PropertyLike] | None = None,
    *,
    mutant: str | None = None,
    symmetry: bool = False,
    deadlock: bool = False,
    liveness: bool = True,
    max_states: int | None = None,
    max_seconds: float | None = None,
    **universe: Any,
) -> CheckResult:
    """Fail unless the properties hold on every reachable state; return the check's result.

    Without ``property``, every property of the model is checked and documented counterexamples
    (``expected="violated"``) are allowed, as in ``mrkcheck check``; a property you name must hold.
    A search stopped by ``max_states``/``max_seconds`` proves nothing, so it fails too.
    ``liveness=False`` skips ``eventually`` properties (deciding them needs the unreduced state
    graph, which on large instances costs far more than the safety check).
    """
    __tracebackhide__ = True  # pytest: show the caller's line, not this one
    model, where = model_for(model_or_factory, mutant, universe)
    named = property is not None
    if property is not None:
        model = with_properties(model, property)
    if not liveness:
        model = model.with_properties(p for p in model.properties if p.kind != EVENTUALLY)
    result = _check(model, symmetry, deadlock, max_states, max_seconds, stop_early=False)
    for r in result.properties:
        if r.status == VIOLATED and (named or r.checked.expected != VIOLATED):
            raise AssertionError(_violation_message(r, where))
        if r.status == UNKNOWN:
            raise AssertionError(
                f"{r.name}: no verdict on {where}: the search stopped ({result.stopped}) "
                f"after {result.stats.distinct:,} states"
            )
    if deadlock and result.deadlock is not None:
        raise AssertionError(
            f"deadlock on {where} after {len(result.deadlock)} steps:\n"
            + trace_table(result.deadlock)
        )
    return result


def assert_violated(
    model_or_factory: ModelLike,
    property: PropertyLike,
    max_length: int | None = None,
    *,
    mutant: str | None = None,
    symmetry: bool = False,
    max_states: int | None = None,
    max_seconds: float | None = None,
    **universe: Any,
) -> Trace:
    """Fail unless ``property`` is violated (within ``max_length`` steps, if given); return the
    shortest counterexample, so the test can go on to inspect it."""
    __tracebackhide__ = True
    model, where = model_for(model_or_factory, mutant, universe)
    model = with_properties(model, property)
    if len(model.properties) != 1:
        raise TypeError("assert_violated takes one property")
    result = _check(model, symmetry, False, max_states, max_seconds, stop_early=True)
    r = result.properties[0]
    if r.status == HOLDS:
        raise AssertionError(
            f"{r.name} holds on {where}: no counterexample in "
            f"{result.stats.distinct:,} reachable states"
        )
    if r.status == UNKNOWN or r.trace is None:
        raise AssertionError(
            f"{r.name}: no counterexample on {where} before the search stopped ({result.stopped})"
        )
    if max_length is not None and len(r.trace) > max_length:
        raise AssertionError(
            f"{r.name}: the shortest counterexample on {where} has {len(r.trace)} steps, "
            f"more than max_length={max_length}\n" + _counterexample(r)
        )
    return r.trace


# --- resolving models and properties --------------------------------------------------------------


def model_for(
    model_or_factory: ModelLike, mutant: str | None = None, universe: dict[str, Any] | None = None
) -> tuple[Model, str]:
    """The model to check and a short description of it for messages."""
    universe = universe or {}
    if isinstance(model_or_factory, Model):
        if universe or mutant:
            raise TypeError("a built Model takes no universe options or mutant: pass its factory")
        return model_or_factory, model_or_factory.name
    factory, name, spec = _factory(model_or_factory)
    if mutant is not None:
        factory = _mutant(spec, mutant).build
    model = factory(**universe)
    options = [f"{k}={v}" for k, v in universe.items()]
    if mutant:
        options.append(f"mutant={mutant}")
    return model, " ".join([name or model.name, *options])


def _factory(given: str | Callable[..., Model]) -> tuple[Callable[..., Model], str, str]:
    if isinstance(given, str):
        try:
            return load_factory(given), given, given
        except UsageError as exc:
            raise ValueError(str(exc)) from None
    if callable(given):
        spec = f"{given.__module__}:{getattr(given, '__name__', '')}"
        return given, "", spec
    raise TypeError(f"expected a Model, a model factory or its name, not {given!r}")


def _mutant(spec: str, name: str):
    mutants = load_mutants(spec)
    if name not in mutants:
        known = ", ".join(sorted(mutants)) or "none"
        raise ValueError(f"unknown mutant {name!r} for {spec} (known: {known})")
    return mutants[name]


def with_properties(model: Model, chosen: PropertyLike | Sequence[PropertyLike]) -> Model:
    """``model`` checking exactly the chosen properties (names, Property objects or functions)."""
    # only lists and tuples are several: a name is a str, which is a Sequence too
    items = list(chosen) if isinstance(chosen, list | tuple) else [cast(PropertyLike, chosen)]
    properties = [_property(model, item) for item in items]
    return model.with_properties(resolve_properties(properties, model.instances))


def _property(model: Model, item: PropertyLike) -> Property:
    if isinstance(item, str):
        return model.get_property(item)
    if isinstance(item, Property):
        return item
    if callable(item):
        made = item(model)
        if not isinstance(made, Property):
            raise TypeError(f"{item!r} returned {made!r}, not a Property")
        return made
    raise TypeError(f"expected a property name, a Property or a function, not {item!r}")


# --- checking and messages ------------------------------------------------------------------------


def _check(
    model: Model,
    symmetry: bool,
    deadlock: bool,
    max_states: int | None,
    max_seconds: float | None,
    stop_early: bool,
) -> CheckResult:
    """'eventually' properties left in the model are decided, with symmetry too (on the
    unreduced graph): a test that names one expects a verdict."""
    checker = (
        Checker(model)
        .symmetry(symmetry)
        .liveness(True)
        .deadlock(deadlock)
        .limits(max_states=max_states, max_seconds=max_seconds)
        .stop_when_all_violated(stop_early)
    )
    return checker.run()


def _violation_message(r: PropertyResult, where: str) -> str:
    steps = "" if r.trace is None else f" (counterexample of {len(r.trace)} steps)"
    return f"{r.name} is violated on {where}{steps}\n" + _counterexample(r)


def _counterexample(r: PropertyResult) -> str:
    return counterexample_text(r)
