"""The expression language shared by every engine.

Guards, effects and properties are written as small immutable expression trees, so that one model
text can be compiled to Python (the explicit engine) and translated to Z3 (the symbolic engine).
Quantifiers expand over a finite universe when the expression is built, so an expression that
reaches an engine is ground: it mentions only constants and state-variable slots.

Booleans and small integers are the only sorts. Building an ill-sorted expression (``and`` of an
integer, ``+`` of a boolean) raises :class:`ExprError` at once, with the offending operand; so does
asking an expression for a Python truth value or comparing it with ``==`` (see :class:`Expr`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from mrkcheck.errors import OneLineError

BOOL = "bool"
INT = "int"


class ModelError(OneLineError, ValueError):
    """The model or its configuration is malformed (exit code 150)."""


class ExprError(ModelError, TypeError):
    """An expression was built from operands of the wrong sort, or used as a Python value.

    A :class:`ModelError`, so that a mistake anywhere in a model's text (not only inside an action
    body) is reported as a bad model in one line."""


NO_TRUTH_VALUE = (
    "a model expression has no truth value in Python: write a & b, a | b, ~a instead of "
    "and/or/not, x.eq(y) / x.ne(y) instead of == / !=, and ite(c, a, b) instead of if"
)


def _refused_comparison(op: str, method: str, left: object, right: object) -> str:
    return (
        f"{_show(left)} {op} {_show(right)}: Python's {op} does not build a condition on model "
        f"expressions; write x.{method}(y)"
    )


def _show(value: object) -> str:
    """An operand as the user wrote it: an enum member by its name, anything else by repr."""
    return value.name if isinstance(value, enum.Enum) else repr(value)


class Expr:
    """Base of all expression nodes. Operators build new nodes.

    Python's own truth and comparison protocols are refused rather than guessed: ``and``, ``or``,
    ``not`` and ``if`` would ask an expression for a truth value it only has in a state, and ``==``
    would compare two trees instead of building a condition; either way the model would build and
    an action would silently never (or always) fire. Structural identity is :func:`same`.
    """

    sort: str = INT

    def __bool__(self) -> bool:
        raise ExprError(NO_TRUTH_VALUE)

    def __eq__(self, other: object) -> bool:
        raise ExprError(_refused_comparison("==", "eq", self, other))

    def __ne__(self, other: object) -> bool:
        raise ExprError(_refused_comparison("!=", "ne", self, other))

    def __lt__(self, other: object) -> bool:
        raise ExprError(_refused_comparison("<", "lt", self, other))

    def __le__(self, other: object) -> bool:
        raise ExprError(_refused_comparison("<=", "le", self, other))

    def __gt__(self, other: object) -> bool:
        raise ExprError(_refused_comparison(">", "gt", self, other))

    def __ge__(self, other: object) -> bool:
        raise ExprError(_refused_comparison(">=", "ge", self, other))

    # Hashing by identity keeps nodes usable as dict keys and set members without ever calling
    # the refused ``==`` (a dict compares keys only when their hashes are equal).
    __hash__ = object.__hash__

    def __and__(self, other: ExprLike) -> Expr:
        return and_(self, other)

    def __rand__(self, other: ExprLike) -> Expr:
        return and_(other, self)

    def __or__(self, other: ExprLike) -> Expr:
        return or_(self, other)

    def __ror__(self, other: ExprLike) -> Expr:
        return or_(other, self)

    def __invert__(self) -> Expr:
        return not_(self)

    def __add__(self, other: ExprLike) -> Expr:
        return arith("+", self, other)

    def __sub__(self, other: ExprLike) -> Expr:
        return arith("-", self, other)

    def eq(self, other: ExprLike) -> Expr:
        return compare("==", self, other)

    def ne(self, other: ExprLike) -> Expr:
        return compare("!=", self, other)

    def lt(self, other: ExprLike) -> Expr:
        return compare("<", self, other)

    def le(self, other: ExprLike) -> Expr:
        return compare("<=", self, other)

    def gt(self, other: ExprLike) -> Expr:
        return compare("<", lift(other), self)

    def ge(self, other: ExprLike) -> Expr:
        return compare("<=", lift(other), self)

    def implies(self, other: ExprLike) -> Expr:
        return implies(self, other)

    def isin(self, *values: ExprLike) -> Expr:
        """True when the value equals one of ``values`` (a finite disjunction)."""
        return or_(*(self.eq(v) for v in values))


ExprLike = Expr | int | bool


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: int
    sort: str = INT

    def __repr__(self) -> str:
        return repr(bool(self.value)) if self.sort == BOOL else repr(self.value)


TRUE = Const(1, BOOL)
FALSE = Const(0, BOOL)


@dataclass(frozen=True, eq=False)
class Var(Expr):
    """One slot of the state vector: variable ``name`` at ``index``; ``primed`` reads the post-state."""

    slot: int
    name: str
    index: tuple[str, ...]
    sort: str
    primed: bool = False

    @property
    def next(self) -> Var:
        """The same slot in the post-state (for action properties)."""
        return Var(self.slot, self.name, self.index, self.sort, True)

    @property
    def label(self) -> str:
        text = self.name + (f"[{','.join(self.index)}]" if self.index else "")
        return text + ("'" if self.primed else "")

    def __repr__(self) -> str:
        return self.label


@dataclass(frozen=True, eq=False)
class Not(Expr):
    arg: Expr
    sort: str = BOOL


@dataclass(frozen=True, eq=False)
class And(Expr):
    args: tuple[Expr, ...]
    sort: str = BOOL


@dataclass(frozen=True, eq=False)
class Or(Expr):
    args: tuple[Expr, ...]
    sort: str = BOOL


@dataclass(frozen=True, eq=False)
class Ite(Expr):
    cond: Expr
    then: Expr
    other: Expr
    sort: str = INT


@dataclass(frozen=True, eq=False)
class Compare(Expr):
    op: str  # one of == != < <=
    left: Expr
    right: Expr
    sort: str = BOOL


@dataclass(frozen=True, eq=False)
class Arith(Expr):
    op: str  # one of + -
    left: Expr
    right: Expr
    sort: str = INT


@dataclass(frozen=True, eq=False)
class Enabled(Expr):
    """ "Action instance ``label`` is enabled": a placeholder that the model replaces by the
    instance's current guards (so a property about availability follows a mutated guard)."""

    label: str
    sort: str = BOOL


def lift(value: ExprLike) -> Expr:
    """Turn a Python bool or int into a constant; pass expressions through."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, int):
        return Const(int(value), INT)
    raise ExprError(f"cannot use {value!r} ({type(value).__name__}) in an expression")


def _need(sort: str, expr: Expr, where: str) -> Expr:
    if expr.sort != sort:
        raise ExprError(f"{where} needs a {sort} operand, got {expr!r} ({expr.sort})")
    return expr


def _bools(values: Iterable[ExprLike], where: str) -> list[Expr]:
    return [_need(BOOL, lift(v), where) for v in values]


def and_(*args: ExprLike) -> Expr:
    """Conjunction, folded: constants vanish or decide, nested conjunctions flatten."""
    parts: list[Expr] = []
    for arg in _bools(args, "and"):
        if isinstance(arg, Const):
            if not arg.value:
                return FALSE
            continue
        parts.extend(arg.args if isinstance(arg, And) else (arg,))
    if not parts:
        return TRUE
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def or_(*args: ExprLike) -> Expr:
    """Disjunction, folded like :func:`and_`."""
    parts: list[Expr] = []
    for arg in _bools(args, "or"):
        if isinstance(arg, Const):
            if arg.value:
                return TRUE
            continue
        parts.extend(arg.args if isinstance(arg, Or) else (arg,))
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def not_(arg: ExprLike) -> Expr:
    expr = _need(BOOL, lift(arg), "not")
    if isinstance(expr, Const):
        return FALSE if expr.value else TRUE
    if isinstance(expr, Not):
        return expr.arg
    return Not(expr)


def implies(premise: ExprLike, conclusion: ExprLike) -> Expr:
    return or_(not_(premise), conclusion)


def ite(cond: ExprLike, then: ExprLike, other: ExprLike) -> Expr:
    """If-then-else; both branches must have the same sort."""
    c = _need(BOOL, lift(cond), "if-then-else condition")
    a, b = lift(then), lift(other)
    if a.sort != b.sort:
        raise ExprError(f"if-then-else branches differ in sort: {a!r} ({a.sort}), {b!r} ({b.sort})")
    if isinstance(c, Const):
        return a if c.value else b
    if same(a, b):
        return a
    return Ite(c, a, b, a.sort)


def compare(op: str, left: ExprLike, right: ExprLike) -> Expr:
    a, b = lift(left), lift(right)
    if op in ("<", "<="):
        _need(INT, a, op)
        _need(INT, b, op)
    elif a.sort != b.sort and not (_is_bit(a) or _is_bit(b)):
        # Booleans are stored as 0/1, so comparing a bool variable with 0/1 is allowed.
        raise ExprError(f"{op} compares {a!r} ({a.sort}) with {b!r} ({b.sort})")
    if isinstance(a, Const) and isinstance(b, Const):
        return lift(_COMPARE[op](a.value, b.value))
    return Compare(op, a, b)


def arith(op: str, left: ExprLike, right: ExprLike) -> Expr:
    a = _need(INT, lift(left), op)
    b = _need(INT, lift(right), op)
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.value + b.value if op == "+" else a.value - b.value)
    return Arith(op, a, b)


def _is_bit(expr: Expr) -> bool:
    return isinstance(expr, Const) and expr.value in (0, 1)


_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": lambda x, y: x == y,
    "!=": lambda x, y: x != y,
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
}


def forall(elements: Iterable[str], body: Callable[[str], ExprLike]) -> Expr:
    """Finite universal quantifier, expanded over ``elements`` now."""
    terms = [(e, lift(body(e))) for e in elements]
    return _quantified("forall", terms, and_(*(t for _, t in terms)))


def exists(elements: Iterable[str], body: Callable[[str], ExprLike]) -> Expr:
    """Finite existential quantifier, expanded over ``elements`` now."""
    terms = [(e, lift(body(e))) for e in elements]
    return _quantified("exists", terms, or_(*(t for _, t in terms)))


def count(elements: Iterable[str], body: Callable[[str], ExprLike]) -> Expr:
    """How many elements satisfy ``body`` (an integer expression)."""
    terms = [(e, ite(body(e), 1, 0)) for e in elements]
    return _quantified("count", terms, _sum(t for _, t in terms))


def _sum(terms: Iterable[Expr]) -> Expr:
    total: Expr = Const(0)
    for term in terms:
        total = arith("+", total, term)
    return total


@dataclass(frozen=True)
class Quantified(Expr):
    """A quantifier with one term per element, built only under :func:`keep_quantifiers`.

    No engine reads it: it is how :mod:`mrkcheck.check.cutoff` compares the models of two sizes term
    by term (dropping the terms of an element). :func:`expand` turns it into the ground form."""

    kind: str  # forall, exists or count
    terms: tuple[tuple[str, Expr], ...]
    sort: str = BOOL


_KEEP_QUANTIFIERS: ContextVar[bool] = ContextVar("keep_quantifiers", default=False)


@contextmanager
def keep_quantifiers() -> Iterator[None]:
    """While a model is built, make forall, exists and count return :class:`Quantified` nodes,
    even where the ground form folds to a constant (a count of constant bodies is the number of
    elements: kept as its terms, it shows)."""
    token = _KEEP_QUANTIFIERS.set(True)
    try:
        yield
    finally:
        _KEEP_QUANTIFIERS.reset(token)


def _quantified(kind: str, terms: list[tuple[str, Expr]], ground: Expr) -> Expr:
    if not _KEEP_QUANTIFIERS.get():
        return ground
    return Quantified(kind, tuple(terms), ground.sort)


def expand(expr: Expr, memo: dict[int, tuple[Expr, Expr]] | None = None) -> Expr:
    """The ground form of an expression built under :func:`keep_quantifiers`: what the same
    model text builds without it. ``memo`` (by node identity) shares the work between calls."""
    return fold(expr, _Expansion(), memo)


# --- the one traversal -----------------------------------------------------------------------------

R = TypeVar("R")
Memo = dict[int, tuple[Expr, R]]


class UnknownNode(ExprError):
    """An expression node of a type the traversal does not know (a new node kind needs a case in
    :func:`_apply` and a method in :class:`Fold`)."""


class Fold(Generic[R]):
    """What one consumer makes of each kind of node, given what the node's children were made into.

    Every engine reads expressions through :func:`fold` with a subclass of this class, so the
    shapes of the nodes are known in one place (:func:`_apply`) and a new kind of node is an error
    in every consumer until it says what the node means to it. A kind a consumer does not expect
    (an unresolved ``Enabled`` reaching the compiler) is refused in one line naming ``purpose``.
    """

    purpose = "read"

    def const(self, e: Const) -> R:
        return self.unsupported(e)

    def var(self, e: Var) -> R:
        return self.unsupported(e)

    def not_(self, e: Not, arg: R) -> R:
        return self.unsupported(e)

    def and_(self, e: And, args: list[R]) -> R:
        return self.unsupported(e)

    def or_(self, e: Or, args: list[R]) -> R:
        return self.unsupported(e)

    def ite(self, e: Ite, cond: R, then: R, other: R) -> R:
        return self.unsupported(e)

    def compare(self, e: Compare, left: R, right: R) -> R:
        return self.unsupported(e)

    def arith(self, e: Arith, left: R, right: R) -> R:
        return self.unsupported(e)

    def enabled(self, e: Enabled) -> R:
        return self.unsupported(e)

    def quantified(self, e: Quantified, terms: list[R]) -> R:
        return self.unsupported(e)

    def unsupported(self, e: Expr) -> R:
        raise ModelError(f"cannot {self.purpose} expression node {e!r}")


def fold(expr: Expr, visitor: Fold[R], memo: Memo[R] | None = None) -> R:
    """``expr`` folded bottom-up by ``visitor``, each node once.

    Models share subtrees (a quantifier's expansion is built once and used by many guards), so the
    tree is a DAG whose unfolding can be exponential: results are memoised by node identity. The
    memo keeps each node alive next to its result, so an id is never reused while it is in there;
    pass the same ``memo`` to share the work between calls with the same visitor."""
    memo = {} if memo is None else memo

    def inner(e: Expr) -> R:
        hit = memo.get(id(e))
        if hit is None:
            hit = memo[id(e)] = (e, _apply(e, visitor, inner))
        return hit[1]

    return inner(expr)


def _apply(expr: Expr, visitor: Fold[R], inner: Callable[[Expr], Any]) -> R:
    """The one place that knows the shape of every node: ``visitor``'s method for ``expr``'s
    kind, with ``inner`` applied to each child (recursion for :func:`fold`, the children
    themselves for :func:`children`, a transformation for :func:`rebuild`)."""
    match expr:
        case Const():
            return visitor.const(expr)
        case Var():
            return visitor.var(expr)
        case Not(arg=arg):
            return visitor.not_(expr, inner(arg))
        case And(args=args):
            return visitor.and_(expr, [inner(a) for a in args])
        case Or(args=args):
            return visitor.or_(expr, [inner(a) for a in args])
        case Ite(cond=cond, then=then, other=other):
            return visitor.ite(expr, inner(cond), inner(then), inner(other))
        case Compare(left=left, right=right):
            return visitor.compare(expr, inner(left), inner(right))
        case Arith(left=left, right=right):
            return visitor.arith(expr, inner(left), inner(right))
        case Enabled():
            return visitor.enabled(expr)
        case Quantified(terms=terms):
            return visitor.quantified(expr, [inner(t) for _, t in terms])
    raise UnknownNode(f"unknown expression node {type(expr).__name__}: {expr!r}")


class _Children(Fold[tuple[Expr, ...]]):
    """A node's children, in order (used through :func:`_apply` with the identity, no recursion)."""

    def const(self, e: Const) -> tuple[Expr, ...]:
        return ()

    def var(self, e: Var) -> tuple[Expr, ...]:
        return ()

    def not_(self, e: Not, arg: Any) -> tuple[Expr, ...]:
        return (arg,)

    def and_(self, e: And, args: list[Any]) -> tuple[Expr, ...]:
        return tuple(args)

    def or_(self, e: Or, args: list[Any]) -> tuple[Expr, ...]:
        return tuple(args)

    def ite(self, e: Ite, cond: Any, then: Any, other: Any) -> tuple[Expr, ...]:
        return (cond, then, other)

    def compare(self, e: Compare, left: Any, right: Any) -> tuple[Expr, ...]:
        return (left, right)

    def arith(self, e: Arith, left: Any, right: Any) -> tuple[Expr, ...]:
        return (left, right)

    def enabled(self, e: Enabled) -> tuple[Expr, ...]:
        return ()

    def quantified(self, e: Quantified, terms: list[Any]) -> tuple[Expr, ...]:
        return tuple(terms)


class Transform(Fold[Expr]):
    """A fold that builds an expression: by default each node again from its transformed
    children, through the smart constructors (so constants fold again), leaves unchanged.
    Subclasses override the kinds they change."""

    def const(self, e: Const) -> Expr:
        return e

    def var(self, e: Var) -> Expr:
        return e

    def not_(self, e: Not, arg: Expr) -> Expr:
        return not_(arg)

    def and_(self, e: And, args: list[Expr]) -> Expr:
        return and_(*args)

    def or_(self, e: Or, args: list[Expr]) -> Expr:
        return or_(*args)

    def ite(self, e: Ite, cond: Expr, then: Expr, other: Expr) -> Expr:
        return ite(cond, then, other)

    def compare(self, e: Compare, left: Expr, right: Expr) -> Expr:
        return compare(e.op, left, right)

    def arith(self, e: Arith, left: Expr, right: Expr) -> Expr:
        return arith(e.op, left, right)

    def enabled(self, e: Enabled) -> Expr:
        return e

    def quantified(self, e: Quantified, terms: list[Expr]) -> Expr:
        elements = (el for el, _ in e.terms)
        return Quantified(e.kind, tuple(zip(elements, terms, strict=True)), e.sort)


class _Expansion(Transform):
    """Quantifiers to their ground form (see :func:`expand`)."""

    def quantified(self, e: Quantified, terms: list[Expr]) -> Expr:
        if e.kind == "forall":
            return and_(*terms)
        return or_(*terms) if e.kind == "exists" else _sum(terms)


_CHILDREN = _Children()
_REBUILD = Transform()


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of ``expr``, in order (a quantifier's: its terms)."""
    return _apply(expr, _CHILDREN, lambda e: e)


def rebuild(expr: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """``expr`` with ``fn`` applied to its children, folded again by the smart constructors."""
    return _apply(expr, _REBUILD, fn)


def same(a: Expr, b: Expr) -> bool:
    """Structural identity: the same node type with the same fields, recursively (what ``==``
    would mean on plain data; on expressions ``==`` is refused, see :class:`Expr`)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    # every node class is a dataclass, though Expr, the type of a and b, is not
    return all(_same_field(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))  # type: ignore[arg-type]


def _same_field(x: object, y: object) -> bool:
    if isinstance(x, Expr) and isinstance(y, Expr):
        return same(x, y)
    if isinstance(x, tuple) and isinstance(y, tuple):
        return len(x) == len(y) and all(_same_field(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, Expr) or isinstance(y, Expr):
        return False
    return x == y


def variables_of(expr: Expr) -> list[Var]:
    """Every variable occurrence in ``expr``, in a deterministic (depth-first) order."""
    found: list[Var] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Var):
            found.append(e)
        for child in children(e):
            walk(child)

    walk(expr)
    return found


def evaluate(expr: Expr, pre: tuple[int, ...], post: tuple[int, ...] | None = None) -> int:
    """Interpret ``expr`` on a state (slow; for tests and one-off queries, not for search)."""
    return fold(expr, _Evaluation(pre, post))


class _Evaluation(Fold[int]):
    """Values on one (pre, post) pair of states; formulas are 0 or 1, as in the state tuples.

    Bottom-up, so every operand is evaluated (no short circuit): a formula that reads the
    post-state is refused without one even where another operand already decides it."""

    purpose = "evaluate"

    def __init__(self, pre: tuple[int, ...], post: tuple[int, ...] | None):
        self.pre, self.post = pre, post

    def const(self, e: Const) -> int:
        return e.value

    def var(self, e: Var) -> int:
        state = self.post if e.primed else self.pre
        if state is None:
            raise ExprError(f"{e!r} reads the post-state, which is not given")
        return state[e.slot]

    def not_(self, e: Not, arg: int) -> int:
        return int(not arg)

    def and_(self, e: And, args: list[int]) -> int:
        return int(all(args))

    def or_(self, e: Or, args: list[int]) -> int:
        return int(any(args))

    def ite(self, e: Ite, cond: int, then: int, other: int) -> int:
        return then if cond else other

    def compare(self, e: Compare, left: int, right: int) -> int:
        return int(_COMPARE[e.op](left, right))

    def arith(self, e: Arith, left: int, right: int) -> int:
        return left + right if e.op == "+" else left - right


def show(expr: Expr, value_name: Callable[[Var, int], str] | None = None) -> str:
    """A TLA+-like text of an expression; ``value_name`` names the constant a variable is
    compared with (a key state by its name rather than its number)."""
    return fold(expr, _Text(value_name))


_TLA_OPERATORS = {"==": "=", "!=": "#"}


class _Text(Fold[str]):
    """The text of :func:`show`."""

    def __init__(self, value_name: Callable[[Var, int], str] | None):
        self.value_name = value_name

    def const(self, e: Const) -> str:
        return str(e.value) if e.sort != BOOL else ("TRUE" if e.value else "FALSE")

    def var(self, e: Var) -> str:
        return e.label

    def not_(self, e: Not, arg: str) -> str:
        return f"~{arg}"

    def and_(self, e: And, args: list[str]) -> str:
        return "(" + " /\\ ".join(args) + ")"

    def or_(self, e: Or, args: list[str]) -> str:
        return "(" + " \\/ ".join(args) + ")"

    def ite(self, e: Ite, cond: str, then: str, other: str) -> str:
        return f"(IF {cond} THEN {then} ELSE {other})"

    def compare(self, e: Compare, left: str, right: str) -> str:
        op = _TLA_OPERATORS.get(e.op, e.op)
        if self.value_name and isinstance(e.left, Var) and isinstance(e.right, Const):
            return f"{left} {op} {self.value_name(e.left, e.right.value)}"
        return f"({left} {op} {right})"

    def arith(self, e: Arith, left: str, right: str) -> str:
        return f"({left} {e.op} {right})"

    def enabled(self, e: Enabled) -> str:
        return f"ENABLED {e.label}"

    def quantified(self, e: Quantified, terms: list[str]) -> str:
        parts = ", ".join(f"{el}: {t}" for (el, _), t in zip(e.terms, terms, strict=True))
        return f"{e.kind}({parts})"
