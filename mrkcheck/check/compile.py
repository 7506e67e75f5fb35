"""Compile a model's expressions to straight-line Python, once per model.

The explicit engine calls one generated function per state, ``step(s, out, bad)``, which tries every
action instance in order: the guards as one short-circuiting condition, the effects as a tuple
built by slicing the pre-state (a few C-level copies instead of a Python loop), and the action
properties of that instance on the new state. Invariants compile to ``violated(s)``, which returns
None on the fast path where every invariant holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mrkcheck.check.result import Trace
from mrkcheck.lang.expr import (
    And,
    Arith,
    Compare,
    Const,
    Expr,
    Fold,
    Ite,
    Not,
    Or,
    Var,
    fold,
    show,
)
from mrkcheck.lang.model import (
    ACTION,
    ALWAYS,
    SOMETIMES,
    ActionInstance,
    Model,
    State,
    state_property,
)


class EvaluationError(RuntimeError):
    """A successor would hold a value outside its variable's domain (exit code 75).

    ``trace`` is the run that reaches the state where evaluation failed (the engine fills it in,
    as TLC prints "the behavior up to this point"); ``action`` the instance whose effect failed and
    ``expression`` the effect's text."""

    def __init__(self, message: str, action: str = "", expression: str = ""):
        super().__init__(message)
        self.action, self.expression = action, expression
        self.trace: Trace | None = None


def to_python(expr: Expr, pre: str = "s", post: str = "t") -> str:
    """Python source for ``expr``, reading slots of the tuples named ``pre`` and ``post``."""
    return fold(expr, _PythonSource(pre, post))


class _PythonSource(Fold[str]):
    """Each node as a parenthesised Python expression; ``and``/``or`` keep Python's short circuit,
    so a guard stops at its first false conjunct in the search loop."""

    purpose = "compile"

    def __init__(self, pre: str, post: str):
        self.pre, self.post = pre, post

    def const(self, e: Const) -> str:
        return str(e.value)

    def var(self, e: Var) -> str:
        return f"{self.post if e.primed else self.pre}[{e.slot}]"

    def not_(self, e: Not, arg: str) -> str:
        return f"(not {arg})"

    def and_(self, e: And, args: list[str]) -> str:
        return "(" + " and ".join(args) + ")"

    def or_(self, e: Or, args: list[str]) -> str:
        return "(" + " or ".join(args) + ")"

    def ite(self, e: Ite, cond: str, then: str, other: str) -> str:
        return f"({then} if {cond} else {other})"

    def compare(self, e: Compare, left: str, right: str) -> str:
        return f"({left} {e.op} {right})"

    def arith(self, e: Arith, left: str, right: str) -> str:
        return f"({left} {e.op} {right})"


def _possible_values(expr: Expr) -> set[int] | None:
    """The values an effect can produce, when known statically (constants and their if-then-else)."""
    return fold(expr, _PossibleValues())


class _PossibleValues(Fold[set[int] | None]):
    """None where the values are not known statically: variables, sums (and the rest)."""

    def unsupported(self, e: Expr) -> None:
        return None

    def const(self, e: Const) -> set[int]:
        return {e.value}

    def ite(
        self, e: Ite, cond: object, then: set[int] | None, other: set[int] | None
    ) -> set[int] | None:
        return None if then is None or other is None else then | other

    def compare(self, e: Compare, left: object, right: object) -> set[int]:
        return {0, 1}

    def and_(self, e: And, args: object) -> set[int]:
        return {0, 1}

    def or_(self, e: Or, args: object) -> set[int]:
        return {0, 1}

    def not_(self, e: Not, arg: object) -> set[int]:
        return {0, 1}


def _out_of_domain(label: str, slot_name: str, value: int, text: str = "") -> None:
    raise EvaluationError(
        f"{label} would set {slot_name} to {value}, outside its domain",
        label,
        f"{slot_name}' = {text}" if text else "",
    )


@dataclass
class Compiled:
    """The generated functions of one model, plus the source for inspection."""

    step: Callable[[State, list, list], None]
    violated: Callable[[State], list[int] | None]
    satisfied: Callable[[State], list[int]]
    terminal: Callable[[State], bool]
    invariants: list[int]  # property positions checked by ``violated``
    goals: list[int]  # property positions of ``sometimes`` properties
    action_properties: list[int]
    source: str


def compile_model(model: Model) -> Compiled:
    """Generate and compile the step, invariant and goal functions of ``model``."""
    props = model.properties
    invariants = [i for i, p in enumerate(props) if p.kind == ALWAYS]
    goals = [i for i, p in enumerate(props) if p.kind == SOMETIMES]
    action_props = [i for i, p in enumerate(props) if p.kind == ACTION]
    domains = _slot_domains(model)

    lines = ["def step(s, out, bad):"]
    for index, inst in enumerate(model.instances):
        lines.extend(_instance_code(index, inst, model, action_props, domains))
    lines.append("    return None")

    lines.append("def violated(s):")
    checks = [to_python(state_property(props[i]).expr) for i in invariants]
    if checks:
        lines.append(f"    if {' and '.join(checks)}:")
        lines.append("        return None")
        lines.append(
            f"    return [p for p, ok in zip({invariants!r}, ({', '.join(checks)},)) if not ok]"
        )
    else:
        lines.append("    return None")

    lines.append("def satisfied(s):")
    goal_src = [to_python(state_property(props[i]).expr) for i in goals]
    if goal_src:
        lines.append(f"    return [p for p, ok in zip({goals!r}, ({', '.join(goal_src)},)) if ok]")
    else:
        lines.append("    return []")

    lines.append("def terminal(s):")
    terminal = "False" if model.terminal is None else to_python(model.terminal)
    lines.append(f"    return bool({terminal})")

    source = "\n".join(lines) + "\n"
    namespace: dict = {"_oob": _out_of_domain}
    exec(compile(source, f"<mrkcheck:{model.name}>", "exec"), namespace)  # noqa: S102
    return Compiled(
        namespace["step"],
        namespace["violated"],
        namespace["satisfied"],
        namespace["terminal"],
        invariants,
        goals,
        action_props,
        source,
    )


def _slot_domains(model: Model) -> dict[int, tuple[int, int, str]]:
    return {slot: (v.domain.lo, v.domain.hi, v[idx].label) for v, idx, slot in model.schema.slots()}


def _instance_code(
    index: int,
    inst: ActionInstance,
    model: Model,
    action_props: list[int],
    domains: dict[int, tuple[int, int, str]],
) -> list[str]:
    guard = to_python(inst.enabled)
    code = [f"    # {index}: {inst.label}", f"    if {guard}:"]
    pad = "        "
    values: dict[int, str] = {}
    for target, value in sorted(inst.effects, key=lambda e: e[0].slot):
        lo, hi, name = domains[target.slot]
        possible = _possible_values(value)
        src = to_python(value)
        if possible is not None and all(lo <= v <= hi for v in possible):
            values[target.slot] = src
        else:
            temp = f"v{target.slot}"
            code.append(f"{pad}{temp} = {src}")
            code.append(f"{pad}if not {lo} <= {temp} <= {hi}:")
            text = show(value)
            code.append(f"{pad}    _oob({inst.label!r}, {name!r}, {temp}, {text!r})")
            values[target.slot] = temp
    code.append(f"{pad}t = {_rebuild(values, model.schema.width)}")
    code.append(f"{pad}out.append(({index}, t))")
    for p in action_props:
        expr = model.properties[p].for_action(inst)
        if expr is not None:
            code.append(f"{pad}if not {to_python(expr)}:")
            code.append(f"{pad}    bad.append(({p}, {index}, t))")
    return code


def _rebuild(values: dict[int, str], width: int) -> str:
    """A tuple expression equal to ``s`` with the given slots replaced, built from slices."""
    if not values:
        return "s"
    parts: list[str] = []
    start = 0
    for slot in sorted(values):
        if slot > start:
            parts.append(f"s[{start}:{slot}]")
        parts.append(f"({values[slot]},)")
        start = slot + 1
    if start < width:
        parts.append(f"s[{start}:]")
    return " + ".join(parts)
