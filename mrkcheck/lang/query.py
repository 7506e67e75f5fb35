"""Expressions typed by a user (``trace show --eval``), and why an expression has its value.

**Parsing.** A small Python-like syntax over a model's variables, turned into the model language's
own expressions, so they evaluate exactly as properties do. The text is parsed by Python's ``ast``
and only the nodes below are accepted; nothing is ever executed (no ``eval``)::

    key_state[k1, us-east-1]                     a slot (index elements written bare or quoted)
    role[k1, eu-west-1] == PRIMARY               ==, !=, <, <=, >, >=; values by name
    key_state[k1, us-east-1] in (Enabled, Updating)
    a and b, a or b, not a, a + 1, x - y
    sum(role[k1, r] == PRIMARY for r in Region)  sum, any, all over a universe of the model
    created                                      a scalar variable

**Witnesses.** :func:`witnesses` answers "which slots make this expression false here": the slots
read by the first false conjunct, by every disjunct when all are false, and, in a count (a sum),
only by the terms that count (the two Regions both PRIMARY, not every Region).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from mrkcheck.errors import UsageError, unknown_name
from mrkcheck.lang.expr import (
    BOOL,
    And,
    Arith,
    Compare,
    Const,
    Expr,
    Ite,
    Not,
    Or,
    Quantified,
    Var,
    and_,
    arith,
    compare,
    evaluate,
    ite,
    lift,
    not_,
    or_,
    variables_of,
)
from mrkcheck.lang.model import Domain, Schema, Universe


def numbers_in(domain: Domain) -> int:
    """How many of a domain's first values are the numbers lo, lo+1, ... stored as themselves
    (a range; in another tool's trace, a range followed by names such as ``-``, absent)."""
    if domain.sort == BOOL:
        return 2
    count = 0
    for k, text in enumerate(domain.values):
        if text != str(domain.lo + k):
            break
        count += 1
    return count


def _numeric(domain: Domain) -> bool:
    return numbers_in(domain) > 0


class QueryError(UsageError):
    """An expression the user typed cannot be read against the model (one line, exit 150)."""


@dataclass(frozen=True)
class _Name:
    """A bare word that is no variable: a value name or an index element, decided by context."""

    text: str


_SUBSCRIPT = re.compile(r"\[([^\[\]]*)\]")
_BARE = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _quote_indices(text: str) -> str:
    """``key_state[k1, us-east-1]`` as ``key_state["k1", "us-east-1"]``: Region names are not
    Python names, and a user copies slot labels from the table as they are."""

    def quoted(m: re.Match[str]) -> str:
        parts = [p.strip() for p in m.group(1).split(",")]
        return "[" + ", ".join(f'"{p}"' if _BARE.match(p) else p for p in parts) + "]"

    return _SUBSCRIPT.sub(quoted, text)


def parse_query(text: str, schema: Schema, universes: tuple[Universe, ...] = ()) -> Expr:
    """The model expression of ``text`` (see the module docstring); errors are one line."""
    try:
        tree = ast.parse(_quote_indices(text.strip()), mode="eval")
    except SyntaxError as exc:
        raise QueryError(f"cannot read expression {text!r}: {exc.msg}") from None
    result = _Reader(schema, {u.name: u for u in universes}, text).read(tree.body, {})
    if isinstance(result, _Name):
        raise QueryError(f"{text!r}: {result.text!r} is no variable of the model")
    return result


class _Reader:
    def __init__(self, schema: Schema, universes: dict[str, Universe], text: str):
        self.schema, self.universes, self.text = schema, universes, text

    def fail(self, why: str) -> QueryError:
        return QueryError(f"expression {self.text!r}: {why}")

    def read(self, node: ast.AST, env: dict[str, str]) -> Expr | _Name:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise self.fail(f"{type(node).__name__} is not allowed here (see trace show --help)")
        return method(node, env)

    def expr(self, node: ast.AST, env: dict[str, str]) -> Expr:
        value = self.read(node, env)
        if isinstance(value, _Name):
            raise self.fail(f"{value.text!r} is no variable of the model")
        return value

    def _constant(self, node: ast.Constant, env) -> Expr | _Name:
        if isinstance(node.value, bool | int):
            return lift(node.value)
        if isinstance(node.value, str):
            return _Name(env.get(node.value, node.value))
        raise self.fail(f"{node.value!r} is not a value")

    def _name(self, node: ast.Name, env) -> Expr | _Name:
        if node.id in env:
            return _Name(env[node.id])
        if node.id in ("TRUE", "True", "true"):
            return lift(True)
        if node.id in ("FALSE", "False", "false"):
            return lift(False)
        for var in self.schema.variables:
            if var.name == node.id:
                if var.over:
                    raise self.fail(f"{var.name} needs an index: {var.name}[...]")
                return var.ref
        return _Name(node.id)

    def _subscript(self, node: ast.Subscript, env) -> Expr:
        if not isinstance(node.value, ast.Name):
            raise self.fail("only a variable can be indexed")
        names = [v.name for v in self.schema.variables]
        if node.value.id not in names:
            raise self.fail(unknown_name("variable", node.value.id, names))
        var = self.schema.variable(node.value.id)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = []
        for item in items:
            element = self.read(item, env)
            if not isinstance(element, _Name):
                raise self.fail(f"an index of {var.name} must be an element name")
            index.append(element.text)
        if len(index) != len(var.over):
            raise self.fail(f"{var.name} takes {len(var.over)} indices, not {len(index)}")
        for name, universe in zip(index, var.over, strict=True):
            if name not in universe.elements:
                raise self.fail(unknown_name(f"element of {universe.name}", name, universe))
        return var[tuple(index)]

    def _compare(self, node: ast.Compare, env) -> Expr:
        parts: list[Expr] = []
        left = self.read(node.left, env)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                found = self._member(left, right_node, env)
                parts.append(not_(found) if isinstance(op, ast.NotIn) else found)
                continue  # a chain goes on from a list of values: x in (A, B) < y is refused
            if type(op) not in _OPS:
                raise self.fail(f"{type(op).__name__} is not a comparison this syntax has")
            right = self.read(right_node, env)
            parts.append(self._comparison(_OPS[type(op)], left, right))
            left = right
        return and_(*parts)

    def _comparison(self, op: str, left: Expr | _Name, right: Expr | _Name) -> Expr:
        if op in ("<", "<=", ">", ">="):
            self._numbers(left, right, op=op)
        a, b = self._value(left, right), self._value(right, left)
        if op in (">", ">="):
            a, b, op = b, a, op.replace(">", "<")
        return compare(op, a, b)

    def _numbers(self, *operands: Expr | _Name, op: str) -> None:
        """Arithmetic and order need numbers: a slot of named values stores their positions."""
        for e in operands:
            if isinstance(e, Var) and not _numeric(self.schema.variable(e.name).domain):
                raise self.fail(f"{e.label} takes named values, not numbers: {op} means nothing")

    def _value(self, side: Expr | _Name, other: Expr | _Name) -> Expr:
        """A value name read in the domain of the variable on the other side (a number too,
        when that domain names its values: a trace of another tool's model)."""
        if isinstance(side, Const) and side.sort != BOOL and isinstance(other, Var):
            domain = self.schema.variable(other.name).domain
            if not _numeric(domain):
                side = _Name(str(side.value))
        if not isinstance(side, _Name):
            return side
        if not isinstance(other, Var):
            raise self.fail(f"{side.text!r} is no variable, and nothing says whose value it is")
        domain = self.schema.variable(other.name).domain
        if side.text not in domain.values:
            raise self.fail(unknown_name(f"value of {other.name}", side.text, domain.values))
        return lift(domain.parse(side.text))

    def _member(self, left: Expr | _Name, node: ast.AST, env) -> Expr:
        if not isinstance(node, ast.Tuple | ast.Set | ast.List):
            raise self.fail("'in' takes a list of values: x in (A, B)")
        options = [self.read(e, env) for e in node.elts]
        return or_(*(self._comparison("==", left, o) for o in options))

    def _boolop(self, node: ast.BoolOp, env) -> Expr:
        args = [self.expr(v, env) for v in node.values]
        return and_(*args) if isinstance(node.op, ast.And) else or_(*args)

    def _unaryop(self, node: ast.UnaryOp, env) -> Expr:
        if isinstance(node.op, ast.Not):
            return not_(self.expr(node.operand, env))
        if isinstance(node.op, ast.USub):
            return arith("-", 0, self.expr(node.operand, env))
        raise self.fail(f"{type(node.op).__name__} is not allowed")

    def _binop(self, node: ast.BinOp, env) -> Expr:
        ops = {ast.Add: "+", ast.Sub: "-"}
        if type(node.op) not in ops:
            raise self.fail("only + and - are arithmetic here")
        left, right = self.expr(node.left, env), self.expr(node.right, env)
        self._numbers(left, right, op=ops[type(node.op)])
        return arith(ops[type(node.op)], left, right)

    def _call(self, node: ast.Call, env) -> Expr:
        """``sum|any|all(<expr> for x in Universe)``."""
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in ("sum", "any", "all") or len(node.args) != 1 or node.keywords:
            raise self.fail("the only calls are sum(...), any(...), all(...) over a universe")
        gen = node.args[0]
        if not isinstance(gen, ast.GeneratorExp) or len(gen.generators) != 1:
            raise self.fail(f"{name} takes one 'for x in Universe'")
        loop = gen.generators[0]
        if not isinstance(loop.target, ast.Name) or not isinstance(loop.iter, ast.Name):
            raise self.fail("write 'for x in Universe'")
        universe = self.universes.get(loop.iter.id)
        if universe is None:
            raise self.fail(unknown_name("universe", loop.iter.id, self.universes))
        terms = [self.expr(gen.elt, {**env, loop.target.id: e}) for e in universe.elements]
        if loop.ifs:
            raise self.fail("no 'if' in a generator: put the condition in the expression")
        if name == "any":
            return or_(*terms)
        if name == "all":
            return and_(*terms)
        total: Expr = lift(0)
        for term in terms:
            total = arith("+", total, ite(term, 1, 0) if term.sort == BOOL else term)
        return total


# --- why an expression has its value --------------------------------------------------------------


def witnesses(expr: Expr, state: tuple[int, ...], post: tuple[int, ...] | None = None) -> set[int]:
    """The slots that make ``expr`` have its value in ``state`` (and ``post``, the state after a
    step, for an action property's primed variables; see the module docstring)."""

    def value(e: Expr) -> int:
        return evaluate(e, state, post)

    def why(e: Expr) -> set[int]:
        if isinstance(e, Var):
            return {e.slot}
        if isinstance(e, Not):
            return why(e.arg)
        if isinstance(e, And | Or):
            decisive = 0 if isinstance(e, And) else 1
            for arg in e.args:
                if value(arg) == decisive:
                    return why(arg)  # the first conjunct (disjunct) that decides it
            return set().union(*(why(a) for a in e.args))
        if isinstance(e, Ite):
            return why(e.cond) | why(e.then if value(e.cond) else e.other)
        if isinstance(e, Arith) and e.op == "+":  # a count: only the terms that count
            terms = [t for t in (e.left, e.right) if isinstance(t, Arith) or value(t)]
            return set().union(set(), *(why(t) for t in terms))
        if isinstance(e, Compare | Arith):
            return why(e.left) | why(e.right)
        if isinstance(e, Quantified):
            return set().union(set(), *(why(t) for _, t in e.terms))
        return set()  # a constant

    return why(expr)


def show_value(expr: Expr, value: int, schema: Schema) -> str:
    """A value of ``expr`` as a reader wants it: a slot's by its value name, a condition as
    TRUE/FALSE, a number as a number."""
    if isinstance(expr, Var):
        return schema.variable(expr.name).domain.show(value)
    if expr.sort == BOOL:
        return "TRUE" if value else "FALSE"
    return str(value)


def evaluate_along(expr: Expr, states: list[tuple[int, ...]], schema: Schema) -> list[str]:
    """The value of ``expr`` in each state; ``-`` where arithmetic or order would read a slot
    holding a name rather than a number (a key absent from a map in another tool's trace)."""
    counted = [] if isinstance(expr, Var) else _counted_slots(expr, schema)
    return [
        "-"
        if any(not lo <= s[slot] < lo + n for slot, lo, n in counted)
        else show_value(expr, evaluate(expr, s), schema)
        for s in states
    ]


def _counted_slots(expr: Expr, schema: Schema) -> list[tuple[int, int, int]]:
    """(slot, lo, numbers) of every slot read as a number by ``expr``."""
    out = []
    for var in variables_of(expr):
        domain = schema.variable(var.name).domain
        n = numbers_in(domain)
        if domain.sort != BOOL and 0 < n < len(domain.values):
            out.append((var.slot, domain.lo, n))
    return out
