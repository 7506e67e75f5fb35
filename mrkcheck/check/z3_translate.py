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

from collections.abc import Sequence

import z3

from mrkcheck.lang.expr import BOOL, And, Arith, Compare, Const, Expr, Ite, Not, Or, Var
from mrkcheck.lang.model import ActionInstance, Model, ModelError, State

Z3State = list[z3.ArithRef]


def within(
    e: Expr, bounds: tuple[int, int], slots: Sequence[tuple[int, int]] | dict[int, tuple[int, int]]
) -> bool:
    """Every value ``e`` can take lies in ``bounds``, judged statically: constants, variables
    with a narrower domain, if-then-else of those, formulas as 0/1. Anything else: maybe not."""
    lo, hi = bounds
    if isinstance(e, Const):
        return lo <= e.value <= hi
    if isinstance(e, Var):
        vlo, vhi = slots[e.slot]
        return lo <= vlo and vhi <= hi
    if isinstance(e, Ite):
        return within(e.then, bounds, slots) and within(e.other, bounds, slots)
    if e.sort == BOOL:
        return lo <= 0 and hi >= 1
    return False


class Translator:
    """Expressions to Z3 terms over one (pre, post) pair of symbolic states, memoised by node.

    Guards of different instances share subtrees (a quantifier expansion built once), so the
    memo keeps the translation linear in the number of distinct nodes.
    """

    def __init__(self, pre: Sequence[z3.ArithRef], post: Sequence[z3.ArithRef] | None = None):
        self.pre = pre
        self.post = post
        self._bool: dict[int, z3.BoolRef] = {}
        self._int: dict[int, z3.ArithRef] = {}
        self._keep: list[Expr] = []  # keeps memoised nodes alive so that ids stay unique

    def boolean(self, expr: Expr) -> z3.BoolRef:
        """``expr`` as a Z3 formula (an int-sorted expression is true when non-zero)."""
        key = id(expr)
        if key not in self._bool:
            self._keep.append(expr)
            self._bool[key] = self._to_bool(expr)
        return self._bool[key]

    def integer(self, expr: Expr) -> z3.ArithRef:
        """``expr`` as a Z3 integer term (a formula becomes 1 or 0)."""
        key = id(expr)
        if key not in self._int:
            self._keep.append(expr)
            self._int[key] = self._to_int(expr)
        return self._int[key]

    def _slot(self, var: Var) -> z3.ArithRef:
        if var.primed:
            if self.post is None:
                raise ModelError(f"{var.label} reads the post-state, which this query has not")
            return self.post[var.slot]
        return self.pre[var.slot]

    def _to_bool(self, e: Expr) -> z3.BoolRef:
        if isinstance(e, Const):
            return z3.BoolVal(bool(e.value))
        if isinstance(e, Var):
            return self._slot(e) != 0
        if isinstance(e, Not):
            return z3.Not(self.boolean(e.arg))
        if isinstance(e, And):
            return z3.And([self.boolean(a) for a in e.args])
        if isinstance(e, Or):
            return z3.Or([self.boolean(a) for a in e.args])
        if isinstance(e, Ite):
            return z3.If(self.boolean(e.cond), self.boolean(e.then), self.boolean(e.other))
        if isinstance(e, Compare):
            a, b = self.integer(e.left), self.integer(e.right)
            return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b}[e.op]
        if isinstance(e, Arith):
            return self.integer(e) != 0
        raise ModelError(f"cannot translate expression node {e!r}")

    def _to_int(self, e: Expr) -> z3.ArithRef:
        if isinstance(e, Const):
            return z3.IntVal(e.value)
        if isinstance(e, Var):
            return self._slot(e)
        if isinstance(e, Ite):
            return z3.If(self.boolean(e.cond), self.integer(e.then), self.integer(e.other))
        if isinstance(e, Arith):
            a, b = self.integer(e.left), self.integer(e.right)
            return a + b if e.op == "+" else a - b
        if e.sort == BOOL:
            return z3.If(self.boolean(e), z3.IntVal(1), z3.IntVal(0))
        raise ModelError(f"cannot translate expression node {e!r}")


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
