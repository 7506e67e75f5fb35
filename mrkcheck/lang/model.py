"""Models as plain data: universes, state variables, guarded actions and named properties.

A model is written with a :class:`ModelBuilder` (declare universes and variables, decorate action
functions, name properties) and frozen into a :class:`Model`. Every action is expanded at build time
into ground :class:`ActionInstance` objects, one per choice of parameters, whose guards and effects
are expressions (:mod:`mrkcheck.lang.expr`). Engines read only this data, never the builder.

Mistakes in a model are reported when it is built, as :class:`ModelError` with one clear line.
"""

from __future__ import annotations

import enum
import inspect
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields, replace
from typing import Any, ClassVar

from mrkcheck.errors import unknown_name
from mrkcheck.lang import display
from mrkcheck.lang.expr import (
    BOOL,
    FALSE,
    INT,
    Const,
    Enabled,
    Expr,
    ExprError,
    ExprLike,
    ModelError,
    Transform,
    Var,
    and_,
    evaluate,
    fold,
    lift,
    show,
    variables_of,
)

State = tuple[int, ...]


# --- universes and domains ------------------------------------------------------------------------


@dataclass(frozen=True)
class Universe:
    """A finite, ordered set of named elements (Regions, key sets, resource managers...).

    ``symmetric`` declares the elements interchangeable: permuting them maps reachable states to
    reachable states, so the explicit engine may count each class of states once. ``classes``
    refines that: only elements with the same class label are interchangeable (e.g. Regions of one
    partition).
    """

    name: str
    elements: tuple[str, ...]
    symmetric: bool = False
    classes: tuple[str, ...] = ()

    def __iter__(self):
        return iter(self.elements)

    def __len__(self) -> int:
        return len(self.elements)

    def position(self, element: str) -> int:
        try:
            return self.elements.index(element)
        except ValueError:
            raise ModelError(
                f"{element!r} is not in universe {self.name} ({', '.join(self.elements)})"
            ) from None

    def class_of(self, element: str) -> str:
        return self.classes[self.position(element)] if self.classes else ""


@dataclass(frozen=True)
class Domain:
    """The finite set of values a variable takes: value names, indexed by the stored integer."""

    name: str
    values: tuple[str, ...]
    lo: int = 0
    sort: str = INT

    def contains(self, value: int) -> bool:
        return self.lo <= value < self.lo + len(self.values)

    def show(self, value: int) -> str:
        """The readable name of a stored value."""
        if not self.contains(value):
            return f"<{value}?>"
        return self.values[value - self.lo]

    def parse(self, text: str) -> int:
        """The stored value of a readable name (inverse of :meth:`show`)."""
        try:
            return self.values.index(text) + self.lo
        except ValueError:
            raise ModelError(
                f"{text!r} is not a value of {self.name} ({', '.join(self.values)})"
            ) from None

    @property
    def hi(self) -> int:
        return self.lo + len(self.values) - 1


def domain_of(spec: Any) -> Domain:
    """A domain from ``bool``, an ``IntEnum`` class, a ``range``, or a :class:`Domain`."""
    if isinstance(spec, Domain):
        return spec
    if spec is bool:
        return Domain("bool", ("false", "true"), 0, BOOL)
    if isinstance(spec, range):
        if spec.step != 1 or len(spec) == 0:
            raise ModelError(f"an integer domain must be a non-empty range with step 1, not {spec}")
        return Domain(f"{spec.start}..{spec.stop - 1}", tuple(str(i) for i in spec), spec.start)
    if isinstance(spec, type) and issubclass(spec, enum.IntEnum):
        members = sorted(spec, key=int)
        lo = int(members[0])
        if [int(m) for m in members] != list(range(lo, lo + len(members))):
            raise ModelError(f"enum {spec.__name__} must have consecutive values")
        return Domain(spec.__name__, tuple(m.name for m in members), lo)
    raise ModelError(f"unsupported domain {spec!r}: use bool, an IntEnum, a range or a Domain")


# --- variables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A family of state slots: one per tuple of elements of ``over`` (none for a scalar)."""

    name: str
    domain: Domain
    over: tuple[Universe, ...]
    first_slot: int
    doc: str = ""

    def indices(self) -> list[tuple[str, ...]]:
        return list(itertools.product(*(u.elements for u in self.over)))

    @property
    def size(self) -> int:
        n = 1
        for u in self.over:
            n *= len(u)
        return n

    def slot(self, index: tuple[str, ...]) -> int:
        if len(index) != len(self.over):
            raise ModelError(f"{self.name} takes {len(self.over)} indices, got {len(index)}")
        offset = 0
        for universe, element in zip(self.over, index, strict=True):
            offset = offset * len(universe) + universe.position(element)
        return self.first_slot + offset

    def __getitem__(self, index: str | tuple[str, ...]) -> Var:
        key = index if isinstance(index, tuple) else (index,)
        return Var(self.slot(key), self.name, key, self.domain.sort)

    @property
    def ref(self) -> Var:
        """The single slot of a scalar variable."""
        return self[()]


@dataclass(frozen=True)
class Schema:
    """How a state vector is laid out: which slot is which variable at which index."""

    variables: tuple[Variable, ...]

    @property
    def width(self) -> int:
        return sum(v.size for v in self.variables)

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise ModelError(f"unknown variable {name!r}")

    def slots(self) -> list[tuple[Variable, tuple[str, ...], int]]:
        """Every slot, in order: (variable, index, position)."""
        return [(v, idx, v.slot(idx)) for v in self.variables for idx in v.indices()]

    def decode(self, state: State) -> dict[str, Any]:
        """Readable values: scalars as a name, indexed variables as {index tuple: name}."""
        out: dict[str, Any] = {}
        for v in self.variables:
            if not v.over:
                out[v.name] = v.domain.show(state[v.first_slot])
            else:
                out[v.name] = {idx: v.domain.show(state[v.slot(idx)]) for idx in v.indices()}
        return out


# --- actions --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class GuardId:
    """Which documented rule a guard encodes: what mutants, conformance and tests select a guard
    by, so that rewording its ``doc`` (the prose for people) changes nothing.

    ``rule`` is a rule id of the model's rules document (``§3.2.4``, ``§4``, ``Q6``). A guard from
    a table cell names it: ``key_state`` is the state refused and ``footnote`` the footnote that
    decides the error (``fn3``). ``case`` tells apart guards of one rule, e.g. the own-Region case
    of ``§3.2.4`` or the ``target replica`` whose state UpdatePrimaryRegion also checks."""

    operation: str
    rule: str
    key_state: str = ""
    footnote: str = ""
    case: str = ""

    def matches(self, operation: str, rule: str, **cell: str) -> bool:
        """Same operation and rule, and the given fields (``key_state=...``) equal; fields left
        out match anything."""
        unknown = set(cell) - {f.name for f in fields(GuardId)}
        if unknown:
            raise ModelError(f"a guard identity has no field {sorted(unknown)[0]!r}")
        if (self.operation, self.rule) != (operation, rule):
            return False
        return all(getattr(self, name) == value for name, value in cell.items())


@dataclass(frozen=True)
class Guard:
    """A condition an action needs; ``error`` is what a refused API call returns (None: no call);
    ``identity`` the rule it encodes (None in models that do not cite rules)."""

    condition: Expr
    error: str | None = None
    doc: str = ""
    identity: GuardId | None = None

    def __post_init__(self) -> None:
        # Guards may be written with Python booleans (a partition check is known at build time).
        object.__setattr__(self, "condition", lift(self.condition))


@dataclass(frozen=True)
class ActionInstance:
    """One action with its parameters bound: ordered guards and simultaneous assignments."""

    action: str
    params: tuple[tuple[str, str], ...]
    guards: tuple[Guard, ...]
    effects: tuple[tuple[Var, Expr], ...]
    environment: bool = False
    doc: str = ""

    @property
    def label(self) -> str:
        return instance_label(self.action, self.params)

    @property
    def enabled(self) -> Expr:
        return and_(*(g.condition for g in self.guards))

    @property
    def refused_by_construction(self) -> bool:
        """A guard folded to false when the model was built: the instance exists only so that the
        model predicts the error of a call it always refuses (replicating a key into its own
        Region), so never firing is its purpose, not the sign of a wrongly written guard."""
        return any(isinstance(g.condition, Const) and not g.condition.value for g in self.guards)

    def param(self, name: str) -> str:
        return dict(self.params)[name]

    def refusal(self, state: State) -> Guard | None:
        """The first guard that fails in ``state`` (its ``error`` is what the call returns), or
        None when the action is enabled. Interpreted, for queries and tests, not for search."""
        for guard in self.guards:
            if not evaluate(guard.condition, state):
                return guard
        return None

    def failing_guards(self, state: State) -> list[Guard]:
        """Every guard that fails in ``state`` (Q16: a caller may accept any of their errors)."""
        return [g for g in self.guards if not evaluate(g.condition, state)]

    def apply(self, state: State) -> State:
        """The successor of ``state`` under this instance (guards are not checked)."""
        out = list(state)
        for target, value in self.effects:
            out[target.slot] = evaluate(value, state)
        return tuple(out)


def instance_label(action: str, params: Iterable[tuple[str, str]]) -> str:
    """The label of an action instance, e.g. ``ReplicateKey(s=k1, r=us-east-1, replica=eu-west-1)``."""
    return f"{action}({', '.join(f'{k}={v}' for k, v in params)})"


@dataclass(frozen=True)
class Transition:
    """What an action function returns: its guards in documented order, and its effects."""

    guards: Sequence[Guard | ExprLike] = ()
    effects: Sequence[tuple[Var, ExprLike]] = ()


# An action function: its parameters are elements of universes; None means the action does not
# exist for that choice of parameters (e.g. Sync from a Region to itself).
ActionBody = Callable[..., Transition | None]


# --- properties -----------------------------------------------------------------------------------


class PropertyKind(enum.StrEnum):
    """What a property constrains; the value is the word reports and JSON print."""

    ALWAYS = "always"  # a state invariant, checked on every reachable state
    ACTION = "action"  # checked on every transition (pre-state, action, post-state)
    SOMETIMES = "sometimes"  # some reachable state satisfies it (a reachability goal)
    EVENTUALLY = "eventually"  # on every fair behaviour it eventually holds (liveness)


ALWAYS, ACTION, SOMETIMES, EVENTUALLY = PropertyKind  # short names the engines use


class Verdict(enum.StrEnum):
    """A property's status after a check, and what a property is expected to get."""

    HOLDS = "holds"
    VIOLATED = "violated"
    UNKNOWN = "unknown"  # the search stopped (limit, interrupt) before a verdict


@dataclass(frozen=True, repr=False)
class Property:
    """What every kind of property has: a name, the documented rule it encodes, a doc, and
    whether it is expected to hold (``Verdict.VIOLATED``: a documented counterexample kept as an
    example). The kinds are the subclasses; ``kind`` says which, for reports and dispatch."""

    kind: ClassVar[PropertyKind]
    name: str
    _: KW_ONLY
    rule: str = ""
    doc: str = ""
    expected: Verdict = Verdict.HOLDS

    def resolve(self, guards: dict[str, Expr]) -> Property:
        """This property with every Enabled(label) placeholder replaced by ``guards[label]``."""
        return self

    def __repr__(self) -> str:  # the expression is ground: thousands of nodes
        return display.property_repr(self)

    def _repr_html_(self) -> str:
        return display.property_html(self, self.expression_text())

    def expression_text(self) -> str:
        """A TLA+-like text of the property's expression (empty for action properties)."""
        if isinstance(self, _StateProperty):
            return show(self.unresolved())
        if isinstance(self, LeadsTo):
            return " /\\ ".join(
                f"({'Init' if p is None else show(p)}) ~> ({show(q)})" for p, q in self.cases
            )
        return ""

    def for_action(self, instance: ActionInstance) -> Expr | None:
        """What the property requires of a transition of ``instance``: None, as only action
        properties speak of single transitions (engines may ask any property)."""
        return None


@dataclass(frozen=True, repr=False)
class _StateProperty(Property):
    """A property of single states. ``template`` keeps ``expr`` before its Enabled(...)
    placeholders were resolved, so a mutant's changed guards can be resolved again."""

    expr: Expr
    _: KW_ONLY
    template: Expr | None = None

    def unresolved(self) -> Expr:
        """``expr`` before its Enabled(...) placeholders were resolved."""
        return self.template if self.template is not None else self.expr

    def resolve(self, guards: dict[str, Expr]) -> Property:
        template = self.unresolved()
        return replace(self, expr=substitute_enabled(template, guards), template=template)


def state_property(prop: Property) -> _StateProperty:
    """``prop`` as a property of states (``ALWAYS``, ``SOMETIMES``), for its ``expr``.

    The engines select properties by ``kind``, which a type checker cannot narrow on; this
    narrows by class. Any other kind here is a programming error, not a user's mistake.
    """
    if not isinstance(prop, _StateProperty):
        raise TypeError(f"{prop.name} is a {prop.kind} property, not a property of states")
    return prop


@dataclass(frozen=True, repr=False)
class Invariant(_StateProperty):
    """``expr`` holds in every reachable state."""

    kind: ClassVar[PropertyKind] = ALWAYS


@dataclass(frozen=True, repr=False)
class Reachability(_StateProperty):
    """Some reachable state satisfies ``expr`` (a reachability goal, TLA's "sometimes")."""

    kind: ClassVar[PropertyKind] = SOMETIMES


@dataclass(frozen=True, repr=False)
class ActionProperty(Property):
    """A property of transitions: ``step(instance)`` is an expression over unprimed (pre) and
    primed (post) variables, or None when the property says nothing about that action."""

    kind: ClassVar[PropertyKind] = ACTION
    step: Callable[[ActionInstance], Expr | None]

    def for_action(self, instance: ActionInstance) -> Expr | None:
        return self.step(instance)


@dataclass(frozen=True, repr=False)
class LeadsTo(Property):
    """Under weak fairness of the environment actions, each case ``premise ~> goal`` holds: once
    the premise holds, the goal eventually does (a premise None means: from Init)."""

    kind: ClassVar[PropertyKind] = EVENTUALLY
    cases: tuple[tuple[Expr | None, Expr], ...]
    _: KW_ONLY
    templates: tuple[tuple[Expr | None, Expr], ...] | None = None  # cases before resolution

    def leads_to_cases(self) -> list[tuple[Expr | None, Expr]]:
        return list(self.cases)

    def resolve(self, guards: dict[str, Expr]) -> Property:
        templates = self.templates if self.templates is not None else self.cases
        cases = tuple(
            (None if p is None else substitute_enabled(p, guards), substitute_enabled(q, guards))
            for p, q in templates
        )
        return replace(self, cases=cases, templates=templates)


# --- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A finished model: what every engine reads."""

    name: str
    universes: tuple[Universe, ...]
    schema: Schema
    initial: tuple[State, ...]
    instances: tuple[ActionInstance, ...]
    properties: tuple[Property, ...] = ()
    terminal: Expr | None = None  # states where no action is enabled on purpose (not a deadlock)
    options: tuple[tuple[str, Any], ...] = ()
    doc: str = ""
    # How to build it again: the registered name or import string (``module:function``,
    # ``path/to/model.py:function``) it was loaded from; empty when built directly in Python.
    source: str = ""

    def __repr__(self) -> str:  # the dataclass repr of every ground instance: 200,000 characters
        return display.model_repr(self)

    def _repr_html_(self) -> str:
        return display.model_html(self)

    def show(self, state: State) -> StateView:
        """``state`` readable: a table of named slots in a notebook, ``State(x=..., ...)``."""
        return StateView(self.schema, state)

    def universe(self, name: str) -> Universe:
        for u in self.universes:
            if u.name == name:
                return u
        raise ModelError(f"unknown universe {name!r}")

    def get_property(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        known = [p.name for p in self.properties]
        raise ModelError(unknown_name("property", name, known, "see: mrkcheck list properties"))

    def instance(self, label: str) -> ActionInstance:
        for inst in self.instances:
            if inst.label == label:
                return inst
        raise ModelError(f"unknown action instance {label!r}")

    @property
    def action_names(self) -> list[str]:
        return list(dict.fromkeys(i.action for i in self.instances))

    def with_properties(self, properties: Iterable[Property]) -> Model:
        return replace(self, properties=tuple(properties))

    def select(self, names: Iterable[str]) -> Model:
        """The same model checking only the named properties (unknown names are an error)."""
        chosen = [self.get_property(n) for n in names]
        return replace(self, properties=tuple(chosen))

    def map_instances(self, fn: Callable[[ActionInstance], ActionInstance | None]) -> Model:
        """A variant with every instance passed through ``fn`` (None drops it): for mutants."""
        kept = [m for m in (fn(i) for i in self.instances) if m is not None]
        instances = tuple(validate_instance(self.schema, i) for i in kept)
        return replace(
            self, instances=instances, properties=resolve_properties(self.properties, instances)
        )

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    def decode(self, state: State) -> dict[str, Any]:
        return self.schema.decode(state)


@dataclass(frozen=True)
class StateView:
    """A state with its schema, to read: ``view["key_state", "k1", "us-east-1"]`` is a value name;
    printed, a line of named slots; in a notebook, tables of named slots."""

    schema: Schema
    state: State

    def __getitem__(self, key: str | tuple[str, ...]) -> str:
        name, *index = (key,) if isinstance(key, str) else key
        var = self.schema.variable(name)
        return var.domain.show(self.state[var.slot(tuple(index))])

    def __repr__(self) -> str:
        return display.state_repr(self.schema, self.state)

    def _repr_html_(self) -> str:
        return display.TABLE_CSS + display.state_tables(self.schema, self.state)


def validate_instance(schema: Schema, inst: ActionInstance) -> ActionInstance:
    """Check sorts, domains and single assignment of one instance; raise ModelError otherwise."""
    where = inst.label
    assigned: set[int] = set()
    slot_var = {slot: (v, idx) for v, idx, slot in schema.slots()}
    for guard in inst.guards:
        if guard.condition.sort != BOOL:
            raise ModelError(f"{where}: guard {guard.condition!r} is not a condition")
        _check_reads(schema, guard.condition, where, allow_primed=False)
    for target, value in inst.effects:
        if not isinstance(target, Var) or target.primed:
            raise ModelError(f"{where}: can only assign a state variable, not {target!r}")
        if target.slot in assigned:
            raise ModelError(f"{where}: variable {target.label} is assigned twice in one effect")
        assigned.add(target.slot)
        variable, _ = slot_var[target.slot]
        _check_reads(schema, value, where, allow_primed=False)
        if isinstance(value, Const) and not variable.domain.contains(value.value):
            raise ModelError(
                f"{where}: value {value.value} is outside the domain {variable.domain.name} "
                f"of {target.label}"
            )
    return inst


def _check_reads(schema: Schema, expr: Expr, where: str, allow_primed: bool) -> None:
    width = schema.width
    for var in variables_of(expr):
        if not 0 <= var.slot < width:
            raise ModelError(f"{where}: unknown variable {var.label}")
        if var.primed and not allow_primed:
            raise ModelError(
                f"{where}: {var.label} reads the post-state, allowed only in properties"
            )


# --- the builder ----------------------------------------------------------------------------------


@dataclass
class _ActionSchema:
    name: str
    params: tuple[tuple[str, Universe], ...]
    body: ActionBody
    environment: bool
    doc: str


@dataclass
class ModelBuilder:
    """Declare a model piece by piece; :meth:`build` validates it and expands every action."""

    name: str
    doc: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    _universes: dict[str, Universe] = field(default_factory=dict)
    _variables: list[Variable] = field(default_factory=list)
    _init: dict[str, Any] = field(default_factory=dict)
    _actions: list[_ActionSchema] = field(default_factory=list)
    _properties: list[Property] = field(default_factory=list)
    _terminal: Expr | None = None
    _width: int = 0

    def universe(
        self,
        name: str,
        elements: Iterable[str],
        symmetric: bool = False,
        classes: Iterable[str] = (),
    ) -> Universe:
        elems = tuple(elements)
        if not elems:
            raise ModelError(f"universe {name} is empty")
        if len(set(elems)) != len(elems):
            raise ModelError(f"universe {name} repeats an element: {', '.join(elems)}")
        if name in self._universes:
            raise ModelError(f"universe {name} is declared twice")
        cls = tuple(classes)
        if cls and len(cls) != len(elems):
            raise ModelError(f"universe {name}: {len(cls)} classes for {len(elems)} elements")
        u = Universe(name, elems, symmetric, cls)
        self._universes[name] = u
        return u

    def _resolve(self, universe: Universe | str, context: str) -> Universe:
        name = universe.name if isinstance(universe, Universe) else universe
        if name not in self._universes:
            raise ModelError(f"{context}: unknown universe {name!r}")
        return self._universes[name]

    def variable(
        self,
        name: str,
        domain: Any,
        over: Sequence[Universe | str] = (),
        init: Any = 0,
        doc: str = "",
    ) -> Variable:
        """Declare a state variable; ``init`` is a value, or a function of the index."""
        if any(v.name == name for v in self._variables):
            raise ModelError(f"variable {name} is declared twice")
        dom = domain_of(domain)
        universes = tuple(self._resolve(u, f"variable {name}") for u in over)
        var = Variable(name, dom, universes, self._width, doc)
        self._width += var.size
        self._variables.append(var)
        self._init[name] = init
        return var

    def action(
        self, environment: bool = False, **params: Universe | str
    ) -> Callable[[ActionBody], ActionBody]:
        """Decorator: the function's keyword parameters range over the named universes."""

        def register(fn: ActionBody) -> ActionBody:
            bound = tuple(
                (p, self._resolve(u, f"action {fn.__name__} parameter {p}"))
                for p, u in params.items()
            )
            names = list(inspect.signature(fn).parameters)
            if names != [p for p, _ in bound]:
                raise ModelError(
                    f"action {fn.__name__}: parameters {names} do not match {list(params)}"
                )
            doc = inspect.getdoc(fn) or ""
            self._actions.append(_ActionSchema(fn.__name__, bound, fn, environment, doc))
            return fn

        return register

    def add_property(self, prop: Property) -> Property:
        if any(p.name == prop.name for p in self._properties):
            raise ModelError(f"property {prop.name} is declared twice")
        self._properties.append(prop)
        return prop

    def invariant(self, name: str, expr: ExprLike, rule: str = "", doc: str = "") -> Property:
        return self.add_property(Invariant(name, lift(expr), rule=rule, doc=doc))

    def leads_to(
        self, name: str, premise: ExprLike, goal: ExprLike, rule: str = "", doc: str = ""
    ) -> Property:
        """``premise ~> goal`` under weak fairness of the environment actions."""
        prop = LeadsTo(name, ((lift(premise), lift(goal)),), rule=rule, doc=doc)
        return self.add_property(prop)

    def leads_to_each(
        self, name: str, cases: Iterable[tuple[ExprLike, ExprLike]], rule: str = "", doc: str = ""
    ) -> Property:
        """For every case, ``premise ~> goal`` (e.g. one case per key)."""
        pairs = tuple((lift(p), lift(q)) for p, q in cases)
        return self.add_property(LeadsTo(name, pairs, rule=rule, doc=doc))

    def terminal(self, expr: ExprLike) -> None:
        """States satisfying ``expr`` may have no successor without being reported as deadlock."""
        self._terminal = lift(expr)

    def build(self) -> Model:
        schema = Schema(tuple(self._variables))
        initial = (self._initial_state(schema),)
        instances = tuple(
            validate_instance(schema, inst) for a in self._actions for inst in self._expand(a)
        )
        for prop in self._properties:
            _validate_property(schema, prop)
        return Model(
            name=self.name,
            universes=tuple(self._universes.values()),
            schema=schema,
            initial=initial,
            instances=instances,
            properties=resolve_properties(self._properties, instances),
            terminal=self._terminal,
            options=tuple(sorted(self.options.items())),
            doc=self.doc,
        )

    def _initial_state(self, schema: Schema) -> State:
        state = [0] * schema.width
        for var in schema.variables:
            init = self._init[var.name]
            for idx in var.indices():
                value = init(*idx) if callable(init) else init
                value = int(value)
                if not var.domain.contains(value):
                    raise ModelError(
                        f"initial value {value} of {var.name} is outside its domain {var.domain.name}"
                    )
                state[var.slot(idx)] = value
        return tuple(state)

    def _expand(self, schema: _ActionSchema) -> list[ActionInstance]:
        out = []
        universes = [u.elements for _, u in schema.params]
        for combo in itertools.product(*universes):
            args = dict(zip((p for p, _ in schema.params), combo, strict=True))
            where = f"{schema.name}({', '.join(f'{k}={v}' for k, v in args.items())})"
            try:
                result = schema.body(**args)
            except ExprError as exc:
                raise ModelError(f"{where}: {exc}") from None
            if result is None:
                continue  # the action does not exist for this choice of parameters
            if not isinstance(result, Transition):
                raise ModelError(f"{where} must return a Transition, not {type(result).__name__}")
            guards = tuple(_as_guard(g, where) for g in result.guards)
            effects = tuple((t, lift(v)) for t, v in result.effects)
            out.append(
                ActionInstance(
                    schema.name,
                    tuple(args.items()),
                    guards,
                    effects,
                    schema.environment,
                    schema.doc,
                )
            )
        return out


def _as_guard(item: Guard | ExprLike, where: str) -> Guard:
    if isinstance(item, Guard):
        return item
    try:
        return Guard(lift(item))
    except ExprError as exc:
        raise ModelError(f"{where}: {exc}") from None


def resolve_properties(
    properties: Iterable[Property], instances: Sequence[ActionInstance]
) -> tuple[Property, ...]:
    """Replace every Enabled(label) placeholder by that instance's guards (FALSE if it is gone)."""
    guards = {inst.label: inst.enabled for inst in instances}
    return tuple(prop.resolve(guards) for prop in properties)


def substitute_enabled(expr: Expr, guards: dict[str, Expr]) -> Expr:
    """``expr`` with every Enabled(label) replaced by ``guards[label]`` (FALSE if it is gone)."""
    return fold(expr, _EnabledSubstitution(guards))


def _validate_property(schema: Schema, prop: Property) -> None:
    """Every state expression of a property is a condition over unprimed variables."""
    if isinstance(prop, _StateProperty):
        exprs: list[Expr | None] = [prop.expr]
    elif isinstance(prop, LeadsTo):
        exprs = [e for case in prop.cases for e in case]
    elif isinstance(prop, ActionProperty):
        return
    else:
        raise ModelError(f"property {prop.name}: unknown kind {type(prop).__name__}")
    for expr in exprs:
        if expr is None:
            continue
        if not isinstance(expr, Expr) or expr.sort != BOOL:
            raise ModelError(f"property {prop.name}: expression must be a condition")
        _check_reads(schema, expr, f"property {prop.name}", allow_primed=False)


class _EnabledSubstitution(Transform):
    """The transformation of :func:`substitute_enabled`."""

    def __init__(self, guards: dict[str, Expr]):
        self.guards = guards

    def enabled(self, e: Enabled) -> Expr:
        return self.guards.get(e.label, FALSE)
