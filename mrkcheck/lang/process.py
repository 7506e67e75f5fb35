"""Processes: small programs run by a model, their program counter and locals as state slots.

A process is a list of named locations; at each location some guarded *branches* leave it (a call
that succeeds, the same call refused with an error, a poll that sees one of several views...),
each with its own effects on the model's state and on the process's locals, and the location it
goes to. :class:`Extension` appends the program counters and locals of some processes to a built
model, turns every branch into one more action instance (guarded by ``pc = location``), and keeps
the model's own instances that the caller wants to interleave with them. The explicit engine then
explores the processes like any other action: every interleaving with every other step.

The construct knows nothing of what the steps mean: the vocabulary (which call, which view)
belongs to the model that uses it (``mrkcheck.model.workflow`` for KMS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from mrkcheck.lang.expr import Expr, ExprLike, Var, and_, lift, or_
from mrkcheck.lang.model import (
    ActionInstance,
    Domain,
    Guard,
    Model,
    ModelError,
    Property,
    Schema,
    State,
    Variable,
    domain_of,
    resolve_properties,
    validate_instance,
)


@dataclass(frozen=True)
class Branch:
    """One way to leave a location: when ``condition`` holds, apply ``effects`` and go to
    ``goto``. The step is shown as ``<process>: action(params)``."""

    action: str
    params: tuple[tuple[str, str], ...]
    condition: Expr
    goto: str
    effects: tuple[tuple[Var, Expr], ...] = ()


@dataclass
class Process:
    """A program: locations in order (the first is where it starts), each with its branches.
    ``ends`` are locations with no branch where the process has stopped (finished or failed)."""

    name: str
    locations: dict[str, list[Branch]] = field(default_factory=dict)
    ends: tuple[str, ...] = ()

    def at(self, location: str) -> list[Branch]:
        """The branches of ``location`` (created empty on first use)."""
        return self.locations.setdefault(location, [])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.locations, *self.ends]))


class Extension:
    """New state slots appended to a built model, and processes whose steps read and write them."""

    def __init__(self, model: Model, name: str | None = None):
        self.model = model
        self.name = name or model.name
        self._variables: list[Variable] = []
        self._init: list[int] = []
        self._width = model.schema.width
        self._counters: dict[str, Variable] = {}

    def variable(self, name: str, domain: object, init: int = 0) -> Variable:
        """A scalar slot after the model's (``domain`` as for ``ModelBuilder.variable``)."""
        if any(v.name == name for v in (*self.model.schema.variables, *self._variables)):
            raise ModelError(f"variable {name} is declared twice")
        dom = domain_of(domain)
        if not dom.contains(init):
            raise ModelError(f"initial value {init} of {name} is outside its domain {dom.name}")
        var = Variable(name, dom, (), self._width)
        self._width += 1
        self._variables.append(var)
        self._init.append(init)
        return var

    def program_counter(self, process: Process) -> Variable:
        """The pc slot of ``process``, whose values are its location names (start first)."""
        if process.name not in self._counters:
            domain = Domain(f"{process.name}.pc", process.names)
            self._counters[process.name] = self.variable(f"{process.name}.pc", domain)
        return self._counters[process.name]

    def at_location(self, process: Process, *locations: str) -> Expr:
        """The process is at one of ``locations``."""
        pc = self.program_counter(process)
        return or_(*(pc.ref.eq(pc.domain.parse(loc)) for loc in locations))

    def build(
        self,
        processes: Iterable[Process],
        keep: Callable[[ActionInstance], bool],
        fair: bool,
        properties: Iterable[Property] = (),
        initial: Iterable[State] | None = None,
        finished: ExprLike | None = None,
    ) -> Model:
        """The model with the processes added: the model's instances that ``keep`` accepts, then
        each branch as an instance (``environment=fair``: weakly fair, as environment steps are);
        ``properties`` replace the model's; ``finished`` states (say, every process at an end)
        are terminal, not deadlocks. The program counters must have been declared first."""
        schema = Schema((*self.model.schema.variables, *self._variables))
        instances = [i for i in self.model.instances if keep(i)]
        for process in processes:
            instances += self._instances(process, fair)
        checked = tuple(validate_instance(schema, i) for i in instances)
        start = self.model.initial if initial is None else tuple(initial)
        terminal = self.model.terminal
        if finished is not None:
            terminal = lift(finished) if terminal is None else or_(terminal, finished)
        return replace(
            self.model,
            name=self.name,
            schema=schema,
            initial=tuple((*s, *self._init) for s in start),
            instances=checked,
            properties=resolve_properties(properties, checked),
            terminal=terminal,
        )

    def _instances(self, process: Process, fair: bool) -> list[ActionInstance]:
        pc = self.program_counter(process)
        out = []
        for location, branches in process.locations.items():
            here = pc.ref.eq(pc.domain.parse(location))
            for b in branches:
                if b.goto not in pc.domain.values:
                    raise ModelError(f"{process.name}: {b.action} goes to unknown step {b.goto!r}")
                moves = b.goto != location
                effects = ((pc.ref, lift(pc.domain.parse(b.goto))),) if moves else ()
                out.append(
                    ActionInstance(
                        f"{process.name}: {b.action}",
                        b.params,
                        (Guard(here), Guard(and_(b.condition))),
                        (*effects, *b.effects),
                        environment=fair,
                    )
                )
        return out
