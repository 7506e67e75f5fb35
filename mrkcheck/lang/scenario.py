"""Drive a model by hand, one call at a time: for scenario tests, notebooks and conformance.

A :class:`Scenario` holds a current state and applies action instances by label, so a worked
example from the documentation reads as a list of calls. A refused call returns the error the model
predicts (the first failing guard's exception), without changing the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from mrkcheck.check.result import Step, Trace
from mrkcheck.lang import display
from mrkcheck.lang.model import Model, ModelError, State, instance_label


@dataclass(repr=False)
class Scenario:
    model: Model
    state: State = ()
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.state:
            self.state = self.model.initial[0]
        self.steps = [Step(None, (), self.state)]

    def call(self, action: str, **params: str) -> str | None:
        """Try ``action``; apply it if enabled and return None, else return the predicted error
        (``"refused"`` for a guard that names no exception)."""
        inst = self.model.instance(instance_label(action, params.items()))
        guard = inst.refusal(self.state)
        if guard is not None:
            return guard.error or "refused"
        self.state = inst.apply(self.state)
        self.steps.append(Step(inst.action, inst.params, self.state))
        return None

    def do(self, action: str, **params: str) -> Scenario:
        """Apply ``action``, which must be enabled (a refused call raises, naming the error)."""
        error = self.call(action, **params)
        if error is not None:
            raise ModelError(f"{instance_label(action, params.items())} refused: {error}")
        return self

    def value(self, variable: str, *index: str) -> str:
        """The readable value of one slot, e.g. ``value("key_state", "k1", "us-east-1")``."""
        var = self.model.schema.variable(variable)
        return var.domain.show(self.state[var.slot(tuple(index))])

    def __repr__(self) -> str:  # the model's repr is short, the state readable
        calls = len(self.steps) - 1
        state = display.state_repr(self.model.schema, self.state)
        return display.short(f"<Scenario of {self.model.name} after {calls} steps: {state}>")

    def _repr_html_(self) -> str:
        """The steps so far and the current state as tables (changes of the last step marked)."""
        items = "".join(f"<li>{escape(step.label)}</li>" for step in self.steps[1:])
        before = self.steps[-2].state if len(self.steps) > 1 else None
        return (
            f"{display.TABLE_CSS}<p><b>Scenario</b> of {escape(self.model.name)}, "
            f"{len(self.steps) - 1} steps</p><ol>{items}</ol>"
            + display.state_tables(self.model.schema, self.state, before)
        )

    def trace(self) -> Trace:
        return Trace(
            self.model.schema,
            list(self.steps),
            None,
            self.model.name,
            None,
            dict(self.model.options),
            self.model.source,
        )
