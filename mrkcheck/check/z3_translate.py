"""Translate a model's ground expressions to Z3: states, initial states, the transition relation.

Generic: it reads only :class:`~mrkcheck.lang.model.Model` data, never a particular model.

Encoding choices (and why):

- A state is one Z3 ``Int`` per slot. Booleans stay 0/1 integers, exactly as in the explicit
  engine's state tuples, so a Z3 model decodes to the same tuple without conversion and a bool
  variable may be compared with 0/1 constants as the expression language allows.
- Each step has an ``Int`` *action index* ``a`` (the position of the instance in
  ``model.instances``). The transition is ``0 <= a < n``, ``a = j -> guard_j(pre)``, and for every
  slot ``post = If(a = j1, value_j1, If(a = j2, value_j2, ..., pre))`` over the instances that assign
  it. That is the disjunction of the instances (guard, effect, frame) written compactly: its size
  is the total size of guards and effects, not instances x slots, and a model of it names the
  instance that fired, so traces carry action labels and parameters.
- Domain membership (``lo <= v <= hi``) is a separate formula: the engines assert it where a state
  is arbitrary (the pre-state of an induction step) and *check* it where a state is computed (after
  a transition), so an effect that leaves the domain is reported rather than silently pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import z3

from mrkcheck.lang.expr import BOOL, And, Arith, Compare, Const, Expr, Fold, Ite, Not, Or, Var, fold
from mrkcheck.lang.model import ActionInstance, Model, ModelError, State

Z3State = list[z3.ArithRef]


def within(
    e: Expr, bounds: tuple[int, int], slots: Sequence[tuple[int, int]] | dict[int, tuple[int, int]]
) -> bool:
    """Every value ``e`` can take lies in ``bounds``, judged statically: constants, variables
    with a narrower domain, if-then-else of those, formulas as 0/1. Anything else: maybe not."""
    lo, hi = bounds
    span = fold(e, _StaticRange(slots))
    return span is not None and lo <= span[0] and span[1] <= hi


class _StaticRange(Fold[tuple[int, int] | None]):
    """The smallest interval known to hold every value of a node, or None (a sum, say)."""

    def __init__(self, slots: Sequence[tuple[int, int]] | dict[int, tuple[int, int]]):
        self.slots = slots

    def unsupported(self, e: Expr) -> tuple[int, int] | None:
        return (0, 1) if e.sort == BOOL else None

    def const(self, e: Const) -> tuple[int, int]:
        return (e.value, e.value)

    def var(self, e: Var) -> tuple[int, int]:
        return self.slots[e.slot]

    def ite(
        self, e: Ite, cond: object, then: tuple[int, int] | None, other: tuple[int, int] | None
    ) -> tuple[int, int] | None:
        if then is None or other is None:
            return None
        return (min(then[0], other[0]), max(then[1], other[1]))


class Translator:
    """Expressions to Z3 terms over one (pre, post) pair of symbolic states, memoised by node.

    Guards of different instances share subtrees (a quantifier expansion built once), so the
    memo keeps the translation linear in the number of distinct nodes.
    """

    def __init__(self, pre: Sequence[z3.ArithRef], post: Sequence[z3.ArithRef] | None = None):
        self._terms = _Z3Terms(pre, post)
        self._memo: dict[int, tuple[Expr, _Both]] = {}

    def boolean(self, expr: Expr) -> z3.BoolRef:
        """``expr`` as a Z3 formula (an int-sorted expression is true when non-zero)."""
        return fold(expr, self._terms, self._memo).boolean()

    def integer(self, expr: Expr) -> z3.ArithRef:
        """``expr`` as a Z3 integer term (a formula becomes 1 or 0)."""
        return fold(expr, self._terms, self._memo).integer()


class _Both:
    """One node in both Z3 sorts, each built on first use: a guard needs the formula, an effect the
    integer, and the operand of a comparison the integer even when it is a formula. A node given
    in one sort only gets the other by the 0/1 convention (non-zero is true, true is 1)."""

    def __init__(
        self,
        formula: Callable[[], z3.BoolRef] | None = None,
        integer: Callable[[], z3.ArithRef] | None = None,
    ):
        self._formula, self._integer = formula, integer
        self._bool: z3.BoolRef | None = None
        self._int: z3.ArithRef | None = None

    def boolean(self) -> z3.BoolRef:
        if self._bool is None:
            self._bool = self._formula() if self._formula else self.integer() != 0
        return self._bool

    def integer(self) -> z3.ArithRef:
        if self._int is None:
            self._int = (
                self._integer()
                if self._integer
                else z3.If(self.boolean(), z3.IntVal(1), z3.IntVal(0))
            )
        return self._int


class _Z3Terms(Fold[_Both]):
    purpose = "translate"

    def __init__(self, pre: Sequence[z3.ArithRef], post: Sequence[z3.ArithRef] | None):
        self.pre = pre
        self.post = post

    def _slot(self, var: Var) -> z3.ArithRef:
        if var.primed:
            if self.post is None:
                raise ModelError(f"{var.label} reads the post-state, which this query has not")
            return self.post[var.slot]
        return self.pre[var.slot]

    def const(self, e: Const) -> _Both:
        return _Both(lambda: z3.BoolVal(bool(e.value)), lambda: z3.IntVal(e.value))

    def var(self, e: Var) -> _Both:
        return _Both(integer=lambda: self._slot(e))

    def not_(self, e: Not, arg: _Both) -> _Both:
        return _Both(lambda: z3.Not(arg.boolean()))

    def and_(self, e: And, args: list[_Both]) -> _Both:
        return _Both(lambda: z3.And([a.boolean() for a in args]))

    def or_(self, e: Or, args: list[_Both]) -> _Both:
        return _Both(lambda: z3.Or([a.boolean() for a in args]))

    def ite(self, e: Ite, cond: _Both, then: _Both, other: _Both) -> _Both:
        return _Both(
            lambda: z3.If(cond.boolean(), then.boolean(), other.boolean()),
            lambda: z3.If(cond.boolean(), then.integer(), other.integer()),
        )

    def compare(self, e: Compare, left: _Both, right: _Both) -> _Both:
        return _Both(lambda: _COMPARE[e.op](left.integer(), right.integer()))

    def arith(self, e: Arith, left: _Both, right: _Both) -> _Both:
        if e.op == "+":
            return _Both(integer=lambda: left.integer() + right.integer())
        return _Both(integer=lambda: left.integer() - right.integer())


_COMPARE: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.BoolRef]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


class Encoding:
    """The Z3 view of one model: fresh symbolic states, Init, Type (domains) and the transition."""

    def __init__(self, model: Model):
        self.model = model
        slots = model.schema.slots()
        self.width = model.schema.width
        self.names = [""] * self.width
        self.bounds = [(0, 0)] * self.width
        for var, idx, slot in slots:
            self.names[slot] = var[idx].label
            self.bounds[slot] = (var.domain.lo, var.domain.hi)
        self._assigning = self._assignments(model.instances)
        self.stays_in_domain = all(
            within(value, self.bounds[target.slot], self.bounds)
            for inst in model.instances
            for target, value in inst.effects
        )

    @staticmethod
    def _assignments(instances: Sequence[ActionInstance]) -> dict[int, list[tuple[int, Expr]]]:
        out: dict[int, list[tuple[int, Expr]]] = {}
        for j, inst in enumerate(instances):
            for target, value in inst.effects:
                out.setdefault(target.slot, []).append((j, value))
        return out

    # --- symbolic states ---------------------------------------------------------------------

    def state(self, tag: str) -> Z3State:
        """A fresh symbolic state; constants are named ``tag|slot label`` for readable dumps."""
        return [z3.Int(f"{tag}|{name}") for name in self.names]

    def action(self, tag: str) -> z3.ArithRef:
        return z3.Int(f"{tag}|action")

    def equals(self, s: Z3State, values: State) -> z3.BoolRef:
        return z3.And([x == v for x, v in zip(s, values, strict=True)])

    def distinct(self, s: Z3State, t: Z3State) -> z3.BoolRef:
        return z3.Or([x != y for x, y in zip(s, t, strict=True)])

    def type_ok(self, s: Z3State) -> z3.BoolRef:
        """Every slot within its variable's domain."""
        return z3.And(
            [z3.And(lo <= x, x <= hi) for x, (lo, hi) in zip(s, self.bounds, strict=True)]
        )

    def init(self, s: Z3State) -> z3.BoolRef:
        return z3.Or([self.equals(s, s0) for s0 in self.model.initial])

    # --- formulas over states ----------------------------------------------------------------

    def holds(self, expr: Expr, pre: Z3State, post: Z3State | None = None) -> z3.BoolRef:
        return Translator(pre, post).boolean(expr)

    def transition(self, pre: Z3State, post: Z3State, act: z3.ArithRef) -> z3.BoolRef:
        """Some instance fires from ``pre`` to ``post``; ``act`` is its index."""
        tr = Translator(pre)
        instances = self.model.instances
        parts = [act >= 0, act < len(instances)]
        for j, inst in enumerate(instances):
            parts.append(z3.Implies(act == j, tr.boolean(inst.enabled)))
        for slot in range(self.width):
            value: z3.ArithRef = pre[slot]
            for j, expr in reversed(self._assigning.get(slot, [])):
                value = z3.If(act == j, tr.integer(expr), value)
            parts.append(post[slot] == value)
        return z3.And(parts)

    def action_property(
        self, prop_exprs: Sequence[Expr | None], pre: Z3State, post: Z3State, act: z3.ArithRef
    ) -> z3.BoolRef:
        """An action property over one step: the instance that fired satisfies its expression."""
        tr = Translator(pre, post)
        parts = [
            z3.Implies(act == j, tr.boolean(e)) for j, e in enumerate(prop_exprs) if e is not None
        ]
        return z3.And(parts) if parts else z3.BoolVal(True)

    # --- decoding ----------------------------------------------------------------------------

    def decode(self, zmodel: z3.ModelRef, s: Z3State) -> State:
        return tuple(zmodel.eval(x, model_completion=True).as_long() for x in s)

    def decode_action(self, zmodel: z3.ModelRef, act: z3.ArithRef) -> ActionInstance:
        return self.model.instances[zmodel.eval(act, model_completion=True).as_long()]
