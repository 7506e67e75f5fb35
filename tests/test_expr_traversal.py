"""The one expression traversal (mrkcheck.lang.expr.fold) and the consumers built on it.

The evaluator, the compiled Python, the Z3 translation and the printer are four independent
readings of one tree: on random well-sorted expressions and random states they must agree (the
printed text is parsed back and evaluated here, so the printer is checked for faithful
parenthesisation too)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from mrkcheck.check.compile import to_python
from mrkcheck.check.z3_translate import Translator
from mrkcheck.lang import expr as E
from mrkcheck.lang.expr import (
    BOOL,
    INT,
    Expr,
    ExprError,
    Fold,
    ModelError,
    Var,
    and_,
    arith,
    children,
    compare,
    evaluate,
    fold,
    ite,
    lift,
    not_,
    or_,
    rebuild,
    same,
    show,
)
from mrkcheck.lang.model import substitute_enabled

X, Y = Var(0, "x", (), INT), Var(1, "y", (), INT)
B, C = Var(2, "b", (), BOOL), Var(3, "c", (), BOOL)


@dataclass(frozen=True, eq=False)
class Mystery(Expr):
    """A node kind the traversal has never heard of."""

    sort: str = BOOL


CONSUMERS = {
    "fold": lambda e: fold(e, Fold()),
    "children": children,
    "rebuild": lambda e: rebuild(e, lambda c: c),
    "evaluate": lambda e: evaluate(e, (0, 0, 0, 0)),
    "compile": to_python,
    "z3": lambda e: Translator([z3.IntVal(0)] * 4).boolean(e),
    "print": show,
    "substitute_enabled": lambda e: substitute_enabled(e, {}),
}


@pytest.mark.parametrize("consumer", CONSUMERS.values(), ids=CONSUMERS.keys())
@pytest.mark.parametrize("nested", [False, True])
def test_an_unknown_node_is_refused_in_one_line(consumer, nested):
    if nested and consumer in (children, CONSUMERS["rebuild"], CONSUMERS["fold"]):
        pytest.skip("one level only, or a visitor that refuses the known nodes first")
    with pytest.raises(ExprError) as caught:
        consumer(or_(C, and_(B, Mystery())) if nested else Mystery())
    message = str(caught.value)
    assert message.startswith("unknown expression node Mystery")
    assert "\n" not in message


def test_a_known_node_a_consumer_does_not_handle_is_refused_naming_the_consumer():
    with pytest.raises(ModelError, match="cannot compile expression node Enabled"):
        to_python(and_(B, E.Enabled("Fire()")))


# One sample per node kind of the language; a new kind fails the next test until it has one.
SAMPLES: dict[type, Expr] = {
    E.Const: lift(3),
    E.Var: X,
    E.Not: E.Not(B),
    E.And: E.And((B, C)),
    E.Or: E.Or((B, C)),
    E.Ite: E.Ite(B, X, Y),
    E.Compare: E.Compare("<", X, Y),
    E.Arith: E.Arith("-", X, Y),
    E.Enabled: E.Enabled("Fire()"),
    E.Quantified: E.Quantified("forall", (("r1", B), ("r2", C))),
}


def _node_kinds() -> set[type]:
    found: set[type] = set()
    todo = [Expr]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__ == E.__name__:
                found.add(sub)
                todo.append(sub)
    return found


def _field_children(e: Expr) -> tuple[Expr, ...]:
    """The subexpressions of a node read from its dataclass fields (not from the traversal)."""
    out: list[Expr] = []
    for f in fields(e):  # type: ignore[arg-type]
        value = getattr(e, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, tuple):  # a quantifier's (element, term)
                item = item[1]
            if isinstance(item, Expr):
                out.append(item)
    return tuple(out)


class _Called(Fold[str]):
    """Which method the traversal chose, by name."""

    def const(self, e):
        return "const"

    def var(self, e):
        return "var"

    def not_(self, e, arg):
        return "not"

    def and_(self, e, args):
        return "and"

    def or_(self, e, args):
        return "or"

    def ite(self, e, cond, then, other):
        return "ite"

    def compare(self, e, left, right):
        return "compare"

    def arith(self, e, left, right):
        return "arith"

    def enabled(self, e):
        return "enabled"

    def quantified(self, e, terms):
        return "quantified"


def test_every_node_kind_of_the_language_has_a_sample():
    assert _node_kinds() == set(SAMPLES)


@pytest.mark.parametrize("kind", SAMPLES, ids=lambda k: k.__name__)
def test_the_traversal_knows_every_node_kind(kind):
    e = SAMPLES[kind]
    assert fold(e, _Called()) == kind.__name__.lower()
    assert children(e) == _field_children(e)
    assert same(rebuild(e, lambda c: c), e)


def test_fold_visits_each_shared_node_once():
    """Sharing makes the tree a DAG; unfolded, this one has 2**20 leaves."""
    e: Expr = X
    for _ in range(20):
        e = arith("+", e, e)
    visits: list[str] = []

    class Count(Fold[int]):
        def var(self, e):
            visits.append("var")
            return 1

        def arith(self, e, left, right):
            visits.append("arith")
            return left + right

    assert fold(e, Count()) == 2**20
    assert visits.count("var") == 1 and visits.count("arith") == 20
    assert evaluate(e, (3, 0, 0, 0)) == 3 * 2**20


# --- four readings of random expressions ------------------------------------------------------------

_ints = st.deferred(lambda: _int_exprs)
_bools = st.deferred(lambda: _bool_exprs)
_int_exprs = st.one_of(
    st.sampled_from([X, Y, X.next, Y.next]),
    st.integers(-3, 3).map(lift),
    st.tuples(_bools, _ints, _ints).map(lambda t: ite(*t)),
    st.tuples(st.sampled_from("+-"), _ints, _ints).map(lambda t: arith(*t)),
    _ints.map(lambda e: arith("-", e, arith("+", e, e))),  # a shared subtree
)
_bool_exprs = st.one_of(
    st.sampled_from([B, C, B.next]),
    st.booleans().map(lift),
    _bools.map(not_),
    st.lists(_bools, min_size=2, max_size=3).map(lambda a: and_(*a)),
    st.lists(_bools, min_size=2, max_size=3).map(lambda a: or_(*a)),
    st.tuples(_bools, _bools, _bools).map(lambda t: ite(*t)),
    st.tuples(st.sampled_from(["==", "!=", "<", "<="]), _ints, _ints).map(lambda t: compare(*t)),
    st.tuples(st.sampled_from(["==", "!="]), _bools, _bools).map(lambda t: compare(*t)),
    _bools.map(lambda e: or_(e, not_(e))),  # a shared subtree
)
_states = st.tuples(st.integers(-2, 3), st.integers(-2, 3), st.integers(0, 1), st.integers(0, 1))


def _compiled(e: Expr, pre, post) -> int:
    return int(eval(to_python(e), {"s": pre, "t": post}))  # noqa: S307


def _z3(e: Expr, pre, post) -> int:
    tr = Translator([z3.IntVal(v) for v in pre], [z3.IntVal(v) for v in post])
    if e.sort == BOOL:
        return int(z3.is_true(z3.simplify(tr.boolean(e))))
    return z3.simplify(tr.integer(e)).as_long()


_TOKEN = re.compile(r"\s*(/\\|\\/|<=|IF|THEN|ELSE|TRUE|FALSE|-?\d+|[a-z]\w*'?|[()~=#<+-])")
_BINARY = {
    "/\\": lambda a, b: int(bool(a and b)),
    "\\/": lambda a, b: int(bool(a or b)),
    "=": lambda a, b: int(a == b),
    "#": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b),
    "<=": lambda a, b: int(a <= b),
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
}


def _printed(text: str, pre, post) -> int:
    """Parse the text :func:`show` prints (every operator application in parentheses) and
    evaluate it on the state."""
    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text.replace(" ", ""), f"untokenisable: {text}"
    names = {"x": pre[0], "y": pre[1], "b": pre[2], "c": pre[3]}
    names |= {"x'": post[0], "y'": post[1], "b'": post[2], "c'": post[3]}
    pos = 0

    def take(expected: str | None = None) -> str:
        nonlocal pos
        token = tokens[pos]
        assert expected is None or token == expected, (text, pos, token)
        pos += 1
        return token

    def atom() -> int:
        token = take()
        if token == "~":
            return int(not atom())
        if token in ("TRUE", "FALSE"):
            return int(token == "TRUE")
        if token in names:
            return names[token]
        if token != "(":
            return int(token)
        if tokens[pos] == "IF":
            take("IF")
            cond = atom()
            take("THEN")
            then = atom()
            take("ELSE")
            other = atom()
            value = then if cond else other
        else:
            value = atom()
            while tokens[pos] != ")":
                value = _BINARY[take()](value, atom())
        take(")")
        return value

    value = atom()
    assert pos == len(tokens), f"trailing text in {text}"
    return value


@settings(max_examples=300, deadline=None)
@given(_bools | _ints, _states, _states)
def test_evaluator_compiler_z3_and_printer_agree(e, pre, post):
    expected = evaluate(e, pre, post)
    assert _compiled(e, pre, post) == expected
    assert _z3(e, pre, post) == expected
    assert _printed(show(e), pre, post) == expected
