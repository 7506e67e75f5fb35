"""Proofs for any number of elements of a universe (e.g. Regions), by a checked cutoff argument.

Ground expansion makes every model finite: ``build(regions=n)`` is a different model for each n.
To prove an invariant for *every* n we use a small-model argument (see ``docs/any-regions.md``):

**Restriction.** For a state s of the model with Regions U and a subset R of U, let s|R keep the
slots whose Region indices lie in R (slots indexed by no Region are kept). Quantifiers over Regions
expand to conjunctions (forall) and disjunctions (exists); restricting drops the instances for
Regions outside R.

**Lemma.** Let Inv be the invariant proved inductive. Suppose a CTI exists with n Regions: s
satisfies Inv, instance a fires, s -> s', and s' breaks a conjunct of Inv (or the step breaks an
action property). Let R = params(a) + W_guard + W_effects + W_inv + W_broken, where W_guard keeps
a's guard true, W_effects keeps each value a assigns, W_inv keeps every conjunct of Inv true in s
(an ``exists`` keeps one true disjunct, a count "at least k" keeps k true terms) and W_broken keeps
the broken conjunct broken in s'. Then (s|R, a, s'|R) is a CTI of the model with |R| Regions:
universal parts only lose conjuncts, existential parts keep their witness, a count only goes down,
and parts over params(a) are unchanged. Hence if Inv is inductive for every size up to
``cutoff = max_a(|params(a)| + W_guard(a) + W_effects(a) + W_broken(a)) + W_inv``, it is inductive
for every size. Init restricts to Init (each slot's initial value does not depend on which Region
indexes it: checked), so the base case also transfers.

**Routes.** Inv is either the property with its lemmas (COMBINED) or the lemmas alone (VIA_LEMMAS),
in which case "every state satisfying the lemmas satisfies the property" is checked too, with its
own cutoff W_inv(lemmas) + W_broken(property); the two cutoffs do not add up.

**What is computed and checked here.** The witness counts are computed from the ground expressions
(:class:`_Witness`), conservatively; where they are not bounded (a count compared with a count, a
body holding a nested quantifier in a count, an existential per instance of a forall) the bound
grows from size N to N + 1 and no cutoff is claimed. The Region universe must be symmetric with
one class (interchangeable Regions), else restriction and renaming could change the model.

**Uniformity, term by term** (:func:`check_uniform`). The model is built a second time with its
quantifiers kept per element (:func:`mrkcheck.lang.expr.keep_quantifiers`); that build must expand to
the checked model. At every pair of consecutive sizes used (1..cutoff + 1, and the walk's N, N + 1)
the larger model, with the extra Region's quantifier terms and slots dropped and folded again,
must equal the smaller one at every guard, effect, property, lemma and initial value, position by
position; quantifier terms that fold to a non-neutral constant for an element the location does not
name are refused (:func:`_constant_terms`: a count of constant bodies is the number of Regions).
The parts the walk took as one quantifier instance must be unchanged at their position at N + 1
(:func:`_unstable_instances`: ``exists q != t`` is not). The checks run with Z3 at every size
1..cutoff, plus cutoff + 1 as a sanity check when the factory builds it.

**What is assumed.** That the comparisons at the sizes used stand for every n: a text that changes
only from a larger size on, without trace at the sizes compared, is not seen (see
``docs/any-regions.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mrkcheck.check.symbolic import InductionResult, Lemma, _named, implied, inductive
from mrkcheck.check.z3_translate import within
from mrkcheck.lang.expr import (
    FALSE,
    TRUE,
    And,
    Arith,
    Compare,
    Const,
    Enabled,
    Expr,
    Fold,
    Ite,
    Not,
    Or,
    Quantified,
    Var,
    children,
    expand,
    fold,
    keep_quantifiers,
    rebuild,
    same,
    variables_of,
)
from mrkcheck.lang.model import (
    ACTION,
    ALWAYS,
    ActionInstance,
    Invariant,
    Model,
    ModelError,
    Universe,
    state_property,
)

Factory = Callable[..., Model]
LemmaSource = Callable[[Model], Sequence[Lemma]]


@dataclass
class Analysis:
    """The quantities of the cutoff argument, computed on one instance size."""

    size: int
    params: int  # distinct Regions among the parameters of ``worst``, the instance with the bound
    conjunct_regions: int  # Regions that keep one broken conjunct broken (W_broken) for ``worst``
    witnesses: int  # witness Regions ``worst`` needs (W_guard + W_effects)
    bound: int | None  # the cutoff: see analyse(); None when it grows with the size
    worst: str = ""  # the instance that attains the bound
    problems: list[str] = field(default_factory=list)
    invariant_witnesses: int = 0  # Regions that keep every conjunct of Inv true (exists, counts)
    max_params: int = 0  # max distinct Regions among any instance's parameters (sizes to analyse)
    instances: set[int] = field(default_factory=set)  # parts taken as one quantifier instance


COMBINED = "combined"  # Inv = property /\ lemmas is inductive
VIA_LEMMAS = "via lemmas"  # Inv = lemmas is inductive, and Inv => property


@dataclass
class AnyRegionsResult:
    """The verdict for one property: proved for any size, only for some sizes, or refuted.

    ``analysis`` holds the step analyses at two sizes; on the route via lemmas,
    ``implication`` holds those of "lemmas imply the property". ``checks`` lists every Z3 check
    with its size: the induction steps, and on the route via lemmas the implications."""

    property_name: str
    proved_any: bool
    cutoff: int | None
    analysis: list[Analysis]
    checks: list[tuple[int, InductionResult]]  # (size, result) per check, in order
    reason: str = ""
    seconds: float = 0.0
    universe: str = "Region"
    route: str = COMBINED
    implication: list[Analysis] = field(default_factory=list)

    @property
    def failure(self) -> tuple[int, InductionResult] | None:
        return next(((n, c) for n, c in self.checks if not c.holds), None)

    @property
    def sizes(self) -> list[int]:
        return sorted({n for n, _ in self.checks if self.failure is None or n <= self.failure[0]})

    def describe(self) -> str:
        sizes = ", ".join(str(n) for n in self.sizes) or "none"
        how = (
            "the lemmas are inductive and imply it"
            if self.route == VIA_LEMMAS
            else "induction with the lemmas"
        )
        if self.proved_any:
            return (
                f"proved for any number of {self.universe} elements (cutoff {self.cutoff}; "
                f"{how}, checked at sizes {sizes})"
            )
        if self.failure is not None:
            return self._failure_text()
        return f"proved only at sizes {sizes}: {self.reason}"

    def _failure_text(self) -> str:
        assert self.failure is not None
        n, failed = self.failure
        if failed.timed_out:
            return f"NOT proved: the check times out at size {n}"
        if failed.base is not None:
            return f"NOT proved: violated from Init at size {n} ({len(failed.base)} steps)"
        broken = ", ".join(failed.cti.failed) if failed.cti else "?"
        if failed.implied:
            return f"NOT proved: at size {n} a state satisfies the lemmas and breaks {broken}"
        label = failed.cti.label if failed.cti else "?"
        return f"NOT proved: induction fails at size {n} ({label} breaks {broken})"


# --- region structure -----------------------------------------------------------------------------


def find_universe(factory: Factory, option: str, base: dict[str, Any]) -> Universe:
    """The universe whose size follows ``option`` (compare the models with 2 and 3 elements)."""
    small, large = factory(**{**base, option: 2}), factory(**{**base, option: 3})
    grown = [u for u in large.universes if len(u) != len(small.universe(u.name))]
    if len(grown) != 1:
        raise ModelError(f"option {option} does not control exactly one universe")
    return grown[0]


class _Regions:
    """Which Regions each slot, expression and instance mentions, in one model."""

    def __init__(self, model: Model, universe: str):
        u = model.universe(universe)
        self.elements = frozenset(u.elements)
        self.universe = u
        self.slot: dict[int, frozenset[str]] = {}
        for var, idx, slot in model.schema.slots():
            self.slot[slot] = frozenset(
                e for e, over in zip(idx, var.over, strict=True) if over.name == universe
            )
        self._fold = _RegionsRead(self.slot)
        self._memo: dict[int, tuple[Expr, frozenset[str]]] = {}

    def of(self, e: Expr) -> frozenset[str]:
        return fold(e, self._fold, self._memo)

    def params(self, inst) -> frozenset[str]:
        return frozenset(v for _, v in inst.params if v in self.elements)


class _RegionsRead(Fold[frozenset[str]]):
    """The Regions whose slots an expression reads (an Enabled placeholder: none)."""

    def __init__(self, slot: dict[int, frozenset[str]]):
        self.slot = slot

    def const(self, e: Const) -> frozenset[str]:
        return frozenset()

    def var(self, e: Var) -> frozenset[str]:
        return self.slot[e.slot]

    def enabled(self, e: Enabled) -> frozenset[str]:
        return frozenset()

    def not_(self, e: Not, arg: frozenset[str]) -> frozenset[str]:
        return arg

    def and_(self, e: And, args: list[frozenset[str]]) -> frozenset[str]:
        return frozenset().union(*args)

    def or_(self, e: Or, args: list[frozenset[str]]) -> frozenset[str]:
        return frozenset().union(*args)

    def ite(
        self, e: Ite, cond: frozenset[str], then: frozenset[str], other: frozenset[str]
    ) -> frozenset[str]:
        return cond | then | other

    def compare(self, e: Compare, left: frozenset[str], right: frozenset[str]) -> frozenset[str]:
        return left | right

    def arith(self, e: Arith, left: frozenset[str], right: frozenset[str]) -> frozenset[str]:
        return left | right

    def quantified(self, e: Quantified, terms: list[frozenset[str]]) -> frozenset[str]:
        return frozenset().union(*terms)


# --- shapes ---------------------------------------------------------------------------------------


class _Shapes:
    """Numbers for ground expressions up to structure, the same across models of two sizes.

    Two expressions get the same number when they are the same tree over the same variable labels
    (slots differ between sizes, labels do not), up to the order of the parts of and, or and +. ``rename`` maps Region names to others, to test
    whether an expression is unchanged by renaming."""

    def __init__(self) -> None:
        self._numbers: dict[tuple, int] = {}
        self._sums: dict[int, tuple[int, ...]] = {}  # the number of a sum: those of its terms
        self._memos: dict[int, dict[int, tuple[Expr, int]]] = {}  # by id of the renaming
        self._renames: list[dict[str, str] | None] = [None]

    def key(self, e: Expr, rename: dict[str, str] | None = None) -> int:
        rename = rename or None
        if id(rename) not in self._memos:
            self._renames.append(rename)  # the memo is keyed by its id: keep it alive
            self._memos[id(rename)] = {}
        return fold(e, _ShapeNumbers(self, rename or {}), self._memos[id(rename)])

    def number(self, shape: tuple) -> int:
        return self._numbers.setdefault(shape, len(self._numbers))

    def sum_number(self, parts: Sequence[int]) -> int:
        """The number of a sum of terms with these numbers, nested sums flattened."""
        kids = tuple(sorted(k for p in parts for k in self._sums.get(p, (p,))))
        number = self.number(("Arith", "+", kids))
        self._sums[number] = kids
        return number

    def symmetric(self, e: Expr, elements: Sequence[str]) -> bool:
        """``e`` is unchanged by a transposition and a cycle of ``elements`` (they generate every
        permutation of them)."""
        swap = {elements[0]: elements[1], elements[1]: elements[0]}
        cycle = dict(zip(elements, [*elements[1:], elements[0]], strict=True))
        plain = self.key(e)
        return all(self.key(e, rename) == plain for rename in (swap, cycle))


class _ShapeNumbers(Fold[int]):
    """The numbers of :class:`_Shapes` under one renaming of Regions: a node's shape is its kind,
    operator and the numbers of its parts, sorted where the order does not matter."""

    def __init__(self, shapes: _Shapes, rename: dict[str, str]):
        self.shapes, self.rename = shapes, rename

    def _node(self, e: Expr, parts: Sequence[int], commutative: bool) -> int:
        kids = tuple(sorted(parts)) if commutative else tuple(parts)
        return self.shapes.number((type(e).__name__, getattr(e, "op", ""), kids))

    def const(self, e: Const) -> int:
        return self.shapes.number(("const", e.value, e.sort))

    def var(self, e: Var) -> int:
        index = tuple(self.rename.get(i, i) for i in e.index)
        return self.shapes.number(("var", e.name, index, e.primed))

    def enabled(self, e: Enabled) -> int:
        return self._node(e, (), False)

    def not_(self, e: Not, arg: int) -> int:
        return self._node(e, (arg,), False)

    def and_(self, e: And, args: list[int]) -> int:
        return self._node(e, args, True)

    def or_(self, e: Or, args: list[int]) -> int:
        return self._node(e, args, True)

    def ite(self, e: Ite, cond: int, then: int, other: int) -> int:
        # Sorted like every node of more than two parts, although the branches do not commute.
        return self._node(e, (cond, then, other), True)

    def compare(self, e: Compare, left: int, right: int) -> int:
        return self._node(e, (left, right), False)

    def arith(self, e: Arith, left: int, right: int) -> int:
        if e.op == "+":  # a chain of + (a count) is one sum of its terms, in any order
            return self.shapes.sum_number((left, right))
        return self._node(e, (left, right), False)

    def quantified(self, e: Quantified, terms: list[int]) -> int:
        return self._node(e, terms, len(terms) > 2)


# --- witnesses ------------------------------------------------------------------------------------

UNBOUNDED = 10**6  # a witness count that stands for "no bound" (a count over Regions, say)


class _Witness:
    """How many extra Regions keep a formula's truth value (or a term's value) under restriction.

    ``truth(e, pos, named)``: if e has truth value ``pos`` in s, restricting s to any R that holds
    ``named`` and that many more well-chosen Regions keeps it. A universal node (and; or negated)
    only loses the parts whose Regions are dropped, so it needs the witnesses of the parts it keeps;
    an existential node needs one true disjunct kept, that is, all the Regions it mentions.

    A part of a universal node that mentions some but not all of the Regions outside ``named`` is
    one instance of the quantifier's body: it is kept only when its Regions are, so they count as
    named inside it. A part that mentions every outside Region holds a nested quantifier and is
    analysed inside. The analysis runs on a size with at least three outside Regions so that the two
    cases differ; where it cannot tell, it over-counts, and over-counting shows as growth.
    """

    def __init__(self, regions: _Regions, shapes: _Shapes | None = None):
        self.regions = regions
        self.shapes = shapes or _Shapes()
        self.instances: set[int] = set()  # shapes of the parts taken as one quantifier instance
        self.refused: set[str] = set()  # shapes the argument does not cover, named for the user

    def _instance(self, part: Expr) -> None:
        """Note that ``part`` is taken as one instance of a quantifier's body: kept unchanged when
        its Regions are, gone otherwise. :func:`_route_cutoff` checks this on a bigger size."""
        self.instances.add(self.shapes.key(part))

    def _refuse(self, shape: str) -> int:
        self.refused.add(shape)
        return UNBOUNDED

    def out(self, e: Expr, named: frozenset[str]) -> frozenset[str]:
        return self.regions.of(e) - named

    def _spans(self, out: frozenset[str], named: frozenset[str]) -> bool:
        return len(out) >= 2 and out == self.regions.elements - named

    def truth(self, e: Expr, pos: bool, named: frozenset[str]) -> int:
        out = self.out(e, named)
        if not out or isinstance(e, Const):
            return 0
        if isinstance(e, Not):
            return self.truth(e.arg, not pos, named)
        if isinstance(e, (And, Or)):
            if isinstance(e, And) == pos:
                return min(UNBOUNDED, sum(self._kept(a, pos, named) for a in e.args))
            return self._existential(e.args, pos, named)
        if isinstance(e, Ite):
            then = self.truth(e.cond, True, named) + self.truth(e.then, pos, named)
            other = self.truth(e.cond, False, named) + self.truth(e.other, pos, named)
            return max(then, other)
        if isinstance(e, Compare):
            counted = _count_compare(e)
            if counted is not None:
                return self._count_truth(*counted, pos, named)
            return self.value(e.left, named) + self.value(e.right, named)
        if isinstance(e, Var):
            return len(out)
        return UNBOUNDED

    def _count_truth(self, op: str, k: int, bodies: list[Expr], pos: bool, named) -> int:
        """Witnesses for ``(number of true bodies) op k`` to keep truth value ``pos``.

        Restriction drops bodies and keeps the others unchanged (each body is one instance that
        reads only its own Regions), so the number of true bodies can only go down: "at most k"
        stays true and "at least k" stays false with no witness; "at least k" stays true when k
        true bodies are kept, and "at most k" stays false when k + 1 are."""
        per = 0
        if self._duplicated(bodies, named):
            return self._refuse("a count whose body does not mention its variable")
        for body in bodies:
            out = self.out(body, named)
            if self._spans(out, named):
                return UNBOUNDED  # a body holding a nested quantifier: not kept unchanged
            if out:
                self._instance(body)
            per = max(per, len(out))
        kept = _COUNT_KEPT.get((op, pos), 0)
        return min(UNBOUNDED, max(kept(k), 0) * per) if callable(kept) else 0

    def _kept(self, part: Expr, pos: bool, named: frozenset[str]) -> int:
        out = self.out(part, named)
        if not out:
            return 0
        if self._spans(out, named):
            return self.truth(part, pos, named)  # if it survives, restricted: an over-count
        self._instance(part)
        return self.truth(part, pos, named | out)

    def _existential(self, parts: tuple[Expr, ...], pos: bool, named: frozenset[str]) -> int:
        """Witnesses for keeping one true disjunct (or one false conjunct), whichever it is."""
        if self._duplicated(parts, named):
            return self._refuse("an exists whose body does not mention its variable")
        return max(self._chosen(a, pos, named) for a in parts)

    def _chosen(self, part: Expr, pos: bool, named: frozenset[str]) -> int:
        """Witnesses for keeping one true disjunct: a quantifier body instance needs its Regions;
        a part holding a nested quantifier is analysed inside, which is sound only when the part
        is not itself an instance of the quantifier (it survives every restriction): then it is
        the same under every renaming of the Regions outside ``named``."""
        out = self.out(part, named)
        if not out:
            return 0
        if not self._spans(out, named):
            self._instance(part)
            return len(out)
        if not self.shapes.symmetric(part, sorted(out)):
            return self._refuse("an exists over Regions whose body quantifies over all the others")
        return self.truth(part, pos, named)

    def _duplicated(self, parts: Sequence[Expr], named: frozenset[str]) -> bool:
        """Two equal parts mentioning Regions outside ``named``: instances of a body that does
        not mention its variable, which vanish with it while nothing names that variable."""
        mentioning = [p for p in parts if self.out(p, named)]
        return len(mentioning) != len(set(mentioning))  # as written: (a, b) is not (b, a)

    def value(self, e: Expr, named: frozenset[str]) -> int:
        """Witnesses that keep the value of a term (or both truth values of a formula)."""
        out = self.out(e, named)
        if not out:
            return 0
        if isinstance(e, Var):
            return len(out)  # reads a Region outside ``named``: that Region must be kept
        if isinstance(e, Ite):
            then = self.truth(e.cond, True, named) + self.value(e.then, named)
            other = self.truth(e.cond, False, named) + self.value(e.other, named)
            return max(then, other)
        if isinstance(e, Arith):
            return UNBOUNDED  # a sum over Regions (a count) changes under restriction
        return max(self.truth(e, True, named), self.truth(e, False, named))


# How many true bodies must be kept for ``count op k`` to keep a truth value (see _count_truth).
_COUNT_KEPT: dict[tuple[str, bool], Callable[[int], int]] = {
    (">=", True): lambda k: k,
    ("<=", False): lambda k: k + 1,
    ("==", True): lambda k: k,
    ("==", False): lambda k: k + 1,
    ("!=", True): lambda k: k + 1,
    ("!=", False): lambda k: k,
}


def _count_terms(e: Expr) -> tuple[int, list[Expr]] | None:
    """A sum of constants and ``Ite(body, 1, 0)`` terms, as :func:`mrkcheck.lang.expr.count` builds
    it: (the constant part, the bodies). None for any other integer term."""
    if isinstance(e, Const):
        return e.value, []
    if isinstance(e, Ite) and same(e.then, Const(1)) and same(e.other, Const(0)):
        return 0, [e.cond]
    if isinstance(e, Arith) and e.op == "+":
        left, right = _count_terms(e.left), _count_terms(e.right)
        if left is None or right is None:
            return None
        return left[0] + right[0], left[1] + right[1]
    return None


def _count_compare(e: Compare) -> tuple[str, int, list[Expr]] | None:
    """``e`` as (op, k, bodies) meaning "the number of true bodies op k", op one of <=, >=, ==,
    !=; None unless one side is a count and the other a constant."""
    left, right = _count_terms(e.left), _count_terms(e.right)
    if left is None or right is None or (left[1] and right[1]) or not (left[1] or right[1]):
        return None
    op = e.op
    if not left[1]:  # constant op count: turn it round
        left, right = right, left
        op = {"<": ">", "<=": ">=", "==": "==", "!=": "!="}[op]
    k = right[0] - left[0]
    if op == "<":
        op, k = "<=", k - 1
    elif op == ">":
        op, k = ">=", k + 1
    return op, k, left[1]


def analyse(
    model: Model,
    universe: str,
    exprs: Sequence[Expr],
    action: Callable[[ActionInstance], Expr | None] | None = None,
    shapes: _Shapes | None = None,
) -> Analysis:
    """Compute the terms of the cutoff for the invariant ``exprs`` (the conjuncts of Inv) and,
    for an action property, its expression per instance (``action``).

    bound = max over instances a of (params(a) + W_guard(a) + W_effects(a) + W_broken(a))
            + W_inv, where W_inv keeps every conjunct of Inv true in the pre-state and W_broken
    keeps one broken conjunct (or a's action property) broken in the post-state.

    Instances that write no variable Inv (or the action property) reads, with values that stay
    in their domains, cannot break it at any size (frame), so they are skipped.
    """
    regions = _Regions(model, universe)
    wit = _Witness(regions, shapes)
    none: frozenset[str] = frozenset()
    broken = max((wit.truth(e, False, none) for e in exprs), default=0)
    pre = min(UNBOUNDED, sum(wit.truth(e, True, none) for e in exprs))
    read = {v.name for e in exprs for v in variables_of(e)}
    domains = _slot_domains(model)
    max_params, bound, terms, worst = 0, 0, (0, 0, broken), ""
    for inst in model.instances:
        extra = action(inst) if action is not None else None
        touched = read | ({v.name for v in variables_of(extra)} if extra is not None else set())
        if _harmless(inst, touched, domains):
            continue
        named = regions.params(inst)
        need = min(UNBOUNDED, _step_witnesses(wit, regions, inst, named))
        own_broken = broken if extra is None else max(broken, wit.truth(extra, False, named))
        max_params = max(max_params, len(named))
        if len(named) + need + own_broken > bound:
            bound, worst = len(named) + need + own_broken, inst.label
            terms = (len(named), need, own_broken)
    problems = []
    u = regions.universe
    if not u.symmetric or len(set(u.classes)) > 1:
        problems.append(f"the {universe} universe is not one class of interchangeable elements")
    total = None if bound + pre >= UNBOUNDED else bound + pre
    params, need, own_broken = terms
    analysis = Analysis(len(u), params, own_broken, need, total, worst, problems, pre, max_params)
    return _seen(analysis, wit)


def _seen(analysis: Analysis, wit: _Witness) -> Analysis:
    """Add what the witness walk assumed (its instances) and refused."""
    analysis.problems += sorted(f"the analysis does not cover {shape}" for shape in wit.refused)
    analysis.instances = wit.instances
    return analysis


def _step_witnesses(wit: _Witness, regions: _Regions, inst: ActionInstance, named) -> int:
    """Witnesses that keep ``inst`` enabled and every value it assigns (W_guard + W_effects)."""
    need = wit.truth(inst.enabled, True, named)
    for target, value in inst.effects:
        need += wit.value(value, named | regions.slot[target.slot])
    return need


def analyse_implication(
    model: Model, universe: str, exprs: Sequence[Expr], prop: Expr, shapes: _Shapes | None = None
) -> Analysis:
    """Terms of the cutoff for "every state satisfying ``exprs`` satisfies ``prop``".

    A state that satisfies ``exprs`` and breaks ``prop`` restricts to W_inv + W_broken Regions
    (witnesses that keep every conjunct of ``exprs`` true and ``prop`` false) doing the same, so
    checking the implication at every size up to that bound checks it at every size."""
    regions = _Regions(model, universe)
    wit = _Witness(regions, shapes)
    none: frozenset[str] = frozenset()
    pre = min(UNBOUNDED, sum(wit.truth(e, True, none) for e in exprs))
    broken = wit.truth(prop, False, none)
    total = None if pre + broken >= UNBOUNDED else pre + broken
    u = regions.universe
    problems = []
    if not u.symmetric or len(set(u.classes)) > 1:
        problems.append(f"the {universe} universe is not one class of interchangeable elements")
    return _seen(Analysis(len(u), 0, broken, 0, total, "", problems, pre), wit)


def _slot_domains(model: Model) -> dict[int, tuple[int, int]]:
    return {slot: (var.domain.lo, var.domain.hi) for var, _, slot in model.schema.slots()}


def _harmless(inst, read: set[str], domains: dict[int, tuple[int, int]]) -> bool:
    """The instance writes none of ``read`` and every value it writes is within its domain."""
    for target, value in inst.effects:
        if target.name in read or not within(value, domains[target.slot], domains):
            return False
    return True


# --- uniformity: the smaller model is the restriction of the larger, term by term ---------------


@dataclass
class _Parts:
    """One size's guards, effects, property and lemma bodies by location ("guard 2 of Fire()"),
    built with their quantifiers kept (:func:`mrkcheck.lang.expr.keep_quantifiers`), so that each term
    of a quantifier knows its element. ``owners`` are the elements a location belongs to (its
    instance's parameters, an effect's target slot): the location exists only when they do."""

    size: int
    universe: str
    elements: frozenset[str]
    exprs: dict[str, Expr]
    owners: dict[str, frozenset[str]]
    initial: dict[tuple[str, tuple[str, ...]], tuple[int, ...]]  # slot -> value per initial state
    other_elements: frozenset[str]  # the names of the other universes' elements
    instance: dict[str, str] = field(default_factory=dict)  # location -> its instance's label

    def without(self, labels: set[str]) -> _Parts:
        """The parts without the locations of the instances labelled in ``labels``."""
        kept = {w: e for w, e in self.exprs.items() if self.instance.get(w) not in labels}
        return replace(self, exprs=kept)


def _parts(factory: Factory, options: dict[str, Any], universe: str, prop: str, lemmas) -> _Parts:
    """The parts of the model ``factory(**options)``, built with its quantifiers kept."""
    with keep_quantifiers():
        model = factory(**options)
        exprs, owners, instance = _located(model, universe, prop, lemmas)
    initial = {
        (var.name, idx): tuple(state[slot] for state in model.initial)
        for var, idx, slot in model.schema.slots()
    }
    others = frozenset(e for u in model.universes if u.name != universe for e in u.elements)
    elements = frozenset(model.universe(universe).elements)
    return _Parts(len(elements), universe, elements, exprs, owners, initial, others, instance)


def _located(model: Model, universe: str, prop: str, lemmas: LemmaSource):
    """Every expression the argument may read, by location; the elements each belongs to; and
    the instance each belongs to (by label)."""
    elements = set(model.universe(universe).elements)
    exprs: dict[str, Expr] = {}
    owners: dict[str, frozenset[str]] = {}
    instance: dict[str, str] = {}
    target = model.get_property(prop)
    for inst in model.instances:
        params = frozenset(v for _, v in inst.params if v in elements)
        at = [(f"guard {i} of {inst.label}", g.condition) for i, g in enumerate(inst.guards, 1)]
        for var, value in inst.effects:
            at.append((f"the effect on {var.label} of {inst.label}", value))
            owners[at[-1][0]] = params | (set(var.index) & elements)
        if target.kind == ACTION and (step := target.for_action(inst)) is not None:
            at.append((f"{prop} at {inst.label}", step))
        for where, e in at:
            exprs[where], instance[where] = e, inst.label
            owners.setdefault(where, params)
    if target.kind != ACTION:
        exprs[f"property {prop}"] = state_property(target).unresolved()
    for name, e in _named(lemmas(model)):
        if name != prop:
            exprs[f"lemma {name}"] = e
    for where in exprs:
        owners.setdefault(where, frozenset())
    return exprs, owners, instance


def _framed(model: Model, prop: str, lemmas: LemmaSource) -> set[str]:
    """Labels of the instances that write no variable the property or a lemma reads, with
    values within their domains: they break neither at any size (see :func:`analyse`)."""
    target = model.get_property(prop)
    read = {v.name for _, e in _named(lemmas(model)) for v in variables_of(e)}
    if target.kind != ACTION:
        read |= {v.name for v in variables_of(state_property(target).expr)}
    domains = _slot_domains(model)
    framed = set()
    for inst in model.instances:
        step = target.for_action(inst) if target.kind == ACTION else None
        touched = read | {v.name for v in (variables_of(step) if step is not None else [])}
        if _harmless(inst, touched, domains):
            framed.add(inst.label)
    return framed


def _same_as_built(parts: _Parts, model: Model, prop: str, lemmas: LemmaSource) -> list[str]:
    """The expressions built with quantifiers kept expand to those the engines check: the
    comparison is about the model that is proved, and the factory builds it the same way twice."""
    ground = _located(model, parts.universe, prop, lemmas)[0]
    memo: dict[int, tuple[Expr, Expr]] = {}
    differ = [w for w, e in parts.exprs.items() if not _equal(ground.get(w), expand(e, memo))]
    differ += sorted(ground.keys() - parts.exprs.keys())
    return [f"{differ[0]} is not built the same way twice"] if differ else []


class _Restriction:
    """Expressions of a model without the terms and slots of the elements ``dropped``.

    A quantifier loses the terms of the dropped elements; the other nodes are folded again (a
    quantifier's terms are kept as they are, see :func:`mrkcheck.lang.expr.keep_quantifiers`); a variable slot of a dropped element outside such a term makes the restriction
    undefined (None: the text names that element). Slot numbers are erased (they differ between
    sizes; variable labels do not), so restrictions from two sizes compare with :func:`_equal`."""

    def __init__(self, dropped: frozenset[str]):
        self.dropped = dropped
        self._memo: dict[int, tuple[Expr, Expr | None]] = {}

    def __call__(self, e: Expr) -> Expr | None:
        if id(e) not in self._memo:
            self._memo[id(e)] = (e, self._restrict(e))
        return self._memo[id(e)][1]

    def _restrict(self, e: Expr) -> Expr | None:
        if isinstance(e, Var):
            return (
                None if self.dropped & set(e.index) else Var(0, e.name, e.index, e.sort, e.primed)
            )
        if isinstance(e, Enabled):  # "Fire(r=r1, s=k1)": the instance of r1 and k1
            values = {p.partition("=")[2] for p in e.label.partition("(")[2][:-1].split(", ")}
            return None if values & self.dropped else e
        if isinstance(e, Quantified):
            terms = [(el, self(t)) for el, t in e.terms if el not in self.dropped]
            if any(t is None for _, t in terms):
                return None
            return Quantified(e.kind, tuple(terms), e.sort)  # type: ignore[arg-type]
        if any(self(c) is None for c in children(e)):
            return None
        return rebuild(e, self)  # type: ignore[arg-type]


def _equal(a: Expr | None, b: Expr | None) -> bool:
    """Structural identity of two expressions, where None (an undefined restriction) equals only
    None (``==`` is refused on expressions, see :class:`mrkcheck.lang.expr.Expr`)."""
    return a is b or (a is not None and b is not None and same(a, b))


def check_uniform(small: _Parts, big: _Parts) -> list[str]:
    """Where the model with fewer elements is not the restriction of the one with more.

    Term by term after constant folding: every location of the smaller model (by label: the
    same instance, guard number, effect target, property or lemma) exists in the larger one,
    and the larger one's expression without the terms and slots of the extra elements equals
    it; every location of the larger model that belongs to no extra element exists in the
    smaller one; initial values of common slots agree and do not depend on the element."""
    dropped = big.elements - small.elements
    name = f"{small.universe} elements"
    if not small.elements <= big.elements or dropped & big.other_elements:
        return [f"the {name} of the smaller model are not a subset, with names of their own"]
    between = f"between {small.size} and {big.size} {name}"
    kept = {w for w in big.exprs if not big.owners[w] & dropped}
    differ = [f"{w} exists with {small.size} {name} only" for w in small.exprs if w not in kept]
    differ += [f"{w} exists with {big.size} {name} only" for w in kept if w not in small.exprs]
    restrict, plain = _Restriction(dropped), _Restriction(frozenset())
    for where, e in small.exprs.items():
        if where in kept and not _equal(restrict(big.exprs[where]), plain(e)):
            differ.append(f"{where} differs {between}")
    differ += [
        f"the initial value of {var}[{','.join(idx)}] differs {between}"
        for (var, idx), values in small.initial.items()
        if big.initial.get((var, idx)) != values
    ]
    differ += _initial_depends(big)
    if not differ:
        return []
    more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
    return [f"the model is not uniform in the number of {name}: {differ[0]}{more}"]


def _initial_depends(parts: _Parts) -> list[str]:
    """Slots whose initial value depends on which element indexes them (restriction followed by
    renaming must map Init to Init)."""
    seen: dict[tuple, tuple[int, ...]] = {}
    for (name, idx), values in parts.initial.items():
        rest = tuple(i for i in idx if i not in parts.elements)
        if seen.setdefault((name, rest), values) != values:
            return [f"the initial value of {name} depends on the {parts.universe} element"]
    return []


_NEUTRAL = {"forall": TRUE, "exists": FALSE, "count": Const(0)}


def _constant_terms(parts: _Parts) -> list[str]:
    """Quantifier terms that are build-time constants for an element the location does not
    name (not an owner, not the element of an enclosing term).

    Such a term folds away in the ground model, so the witness walk never sees it, yet a
    restriction drops it: ``count(R, lambda q: True)`` is the number of elements and
    ``exists q != r: True`` says there is another one. Only a quantifier's neutral constant
    (true in a forall, false in an exists, 0 in a count) drops without changing its value."""

    def walk(e: Expr, bound: frozenset[str]) -> str | None:
        if isinstance(e, Quantified):
            for el, term in e.terms:
                if isinstance(term, Const) and not same(term, _NEUTRAL[e.kind]) and el not in bound:
                    return f"a {e.kind} over {parts.universe} whose body is the constant {term}"
                found = walk(term, bound | {el})
                if found:
                    return found
            return None
        return next((f for c in children(e) if (f := walk(c, bound))), None)

    for where, e in parts.exprs.items():
        found = walk(e, parts.owners[where])
        if found:
            return [
                f"{found} for an element it does not name, in {where}: it folds to a value "
                f"that depends on the number of {parts.universe} elements"
            ]
    return []


def _unstable_instances(
    small: _Parts, big: _Parts, shapes: _Shapes, instances: set[int]
) -> list[str]:
    """The parts the witness walk took as one quantifier instance at the smaller size (kept
    whole or dropped whole by a restriction) that change, at their own position, when an
    element is added: such a part holds a quantifier that excludes a bound variable
    (``exists q != t``), which a restriction shrinks instead of dropping."""
    plain = _Restriction(frozenset())
    memo: dict[int, tuple[Expr, Expr]] = {}
    stable: set[int] = set()
    changed: dict[int, str] = {}
    for where, e in small.exprs.items():
        for node, twin in _aligned(e, big.exprs.get(where)):
            key = shapes.key(expand(node, memo))
            if twin is not None and _equal(plain(twin), plain(node)):
                stable.add(key)
            else:
                changed.setdefault(key, where)
    bad = sorted(k for k in instances if k in changed or k not in stable)
    if not bad:
        return []
    where = changed.get(bad[0], "an expression")
    return [
        f"a quantifier instance in {where} changes between {small.size} and {big.size} "
        f"{small.universe} elements (a nested quantifier whose range excludes a bound variable, "
        "e.g. exists q != t)"
    ]


def _aligned(small: Expr, big: Expr | None):
    """Pairs (node of ``small``, the node at the same position in ``big`` or None), every node
    of ``small``: a quantifier's terms pair by element, other nodes child by child."""
    yield small, big
    twins: list[Expr | None]
    if isinstance(small, Quantified):
        terms = dict(big.terms) if isinstance(big, Quantified) and big.kind == small.kind else {}
        twins = [terms.get(el) for el, _ in small.terms]
    elif (
        big is not None and type(big) is type(small) and len(children(big)) == len(children(small))
    ):
        twins = list(children(big))
    else:
        twins = [None] * len(children(small))
    for child, twin in zip(children(small), twins, strict=True):
        yield from _aligned(child, twin)


# --- the proof ------------------------------------------------------------------------------------


def prove_any(
    factory: Factory,
    prop: str,
    lemmas: LemmaSource = lambda model: (),
    *,
    option: str = "regions",
    base: dict[str, Any] | None = None,
    max_seconds: float | None = None,
) -> AnyRegionsResult:
    """Prove invariant or action property ``prop`` for every value of ``option`` (the number of
    Regions).

    Two routes, tried in the order of their cutoffs (smaller first, COMBINED on a tie): COMBINED
    puts a state invariant into the induction hypothesis with the lemmas; VIA_LEMMAS proves the
    lemmas inductive alone and then that they imply the property, two checks whose cutoffs do
    not add up. The first route that proves the property wins; if none does, the verdict is the
    first route's (its counterexample or its reason)."""
    started = time.perf_counter()
    base = {k: v for k, v in (base or {}).items() if k != option}
    universe = find_universe(factory, option, base).name
    sizes = _Sizes(factory, option, base, universe, prop, lemmas)
    results: list[AnyRegionsResult] = []
    for route, analyses, implication in _routes(sizes):
        remaining = None if max_seconds is None else max_seconds - (time.perf_counter() - started)
        result = _prove_route(sizes, route, analyses, implication, remaining)
        results.append(result)
        if result.proved_any:
            break
    chosen = results[-1] if results[-1].proved_any else results[0]
    chosen.seconds = time.perf_counter() - started
    return chosen


class _Sizes:
    """The models of one factory by size, built once each: as the engines check them, and with
    their quantifiers kept for the uniformity checks (:class:`_Parts`)."""

    def __init__(self, factory: Factory, option, base, universe, prop, lemmas: LemmaSource):
        self.factory, self.option, self.base = factory, option, base
        self.universe, self.prop, self.lemmas = universe, prop, lemmas
        self._models: dict[int, Model] = {}
        self._parts: dict[int, tuple[_Parts, list[str]]] = {}

    def model(self, n: int) -> Model:
        """The model with ``n`` elements (ModelError if the factory does not build it)."""
        if n not in self._models:
            self._models[n] = self.factory(**{**self.base, self.option: n})
        return self._models[n]

    def parts(self, n: int) -> tuple[_Parts, list[str]]:
        """Its expressions with quantifiers kept, and whether they expand to the model's."""
        if n not in self._parts:
            options = {**self.base, self.option: n}
            parts = _parts(self.factory, options, self.universe, self.prop, self.lemmas)
            self._parts[n] = parts, _same_as_built(parts, self.model(n), self.prop, self.lemmas)
        return self._parts[n]

    def pair(self, n: int, m: int) -> tuple[_Parts, _Parts]:
        """The parts of sizes ``n`` < ``m`` the argument reads: without the instances that
        cannot break the property or a lemma at size ``m`` (:func:`_framed`), the size a
        counterexample is restricted from."""
        framed = _framed(self.model(m), self.prop, self.lemmas)
        return self.parts(n)[0].without(framed), self.parts(m)[0].without(framed)

    def uniform(self, n: int, m: int) -> list[str]:
        """Problems comparing size ``n`` with the restriction of size ``m``."""
        small, big = self.pair(n, m)
        problems = self.parts(n)[1] + self.parts(m)[1]
        return problems + _constant_terms(small) + _constant_terms(big) + check_uniform(small, big)


def _routes(sizes: _Sizes):
    """(route, step analyses, implication analyses) to try, best cutoff first."""
    universe, prop, lemmas = sizes.universe, sizes.prop, sizes.lemmas

    def combined(m: Model, shapes: _Shapes) -> Analysis:
        return analyse(m, universe, *_invariant(m, prop, lemmas), shapes=shapes)

    def step(m: Model, shapes: _Shapes) -> Analysis:
        return analyse(m, universe, _own(m, prop, lemmas), shapes=shapes)

    def implication(m: Model, shapes: _Shapes) -> Analysis:
        expr = state_property(m.get_property(prop)).expr
        own = _own(m, prop, lemmas)
        return analyse_implication(m, universe, own, expr, shapes)

    routes: list[tuple[str, list[Analysis], list[Analysis]]] = [
        (COMBINED, _analyses(sizes, combined), [])
    ]
    probe = sizes.model(2)
    if probe.get_property(prop).kind == ALWAYS and _own(probe, prop, lemmas):
        via = (VIA_LEMMAS, _analyses(sizes, step))
        routes.append((*via, _analyses(sizes, implication)))
    return sorted(routes, key=lambda r: _route_cutoff(r[1], r[2])[0] or UNBOUNDED)


def _route_cutoff(step: list[Analysis], implication: list[Analysis]) -> tuple[int | None, str]:
    """The cutoff of a route, or None with the reason."""
    bounds = [a.bound for a in step + implication]
    first = [a.bound for a in (step[0], *implication[:1])]
    second = [a.bound for a in (step[1], *implication[1:])]
    problems = [p for a in step + implication for p in a.problems]
    if problems:
        return None, "; ".join(dict.fromkeys(problems))
    if None in bounds or first != second:
        return None, "the witness bound grows with the number of Regions"
    return max(b for b in bounds if b is not None), ""


def _prove_route(sizes: _Sizes, route, analyses, implication, max_seconds) -> AnyRegionsResult:
    started = time.perf_counter()
    cutoff, reason = _route_cutoff(analyses, implication)
    checked = list(range(1, cutoff + 2)) if cutoff else [1, 2, 3]  # cutoff + 1: a sanity check
    checks, problems, built = _check_sizes(sizes, checked, route, started, max_seconds)
    if problems and cutoff is not None:
        reason, cutoff = "; ".join(dict.fromkeys(problems)), None
    failed = any(not c.holds for _, c in checks)
    needed = set(range(1, (cutoff or 0) + 1))
    proved = cutoff is not None and not failed and needed <= {n for n, _ in checks}
    universe = sizes.universe
    if not proved and not reason and not failed:
        reason = f"time limit reached, or the model cannot be built with {cutoff} {universe}s"
    if proved and cutoff is not None and cutoff + 1 not in built:
        reason = f"(the model cannot be built with {cutoff + 1} {universe}s: no sanity check)"
    return AnyRegionsResult(
        sizes.prop,
        proved,
        cutoff,
        analyses,
        checks,
        reason,
        time.perf_counter() - started,
        universe,
        route,
        implication,
    )


def _analyses(sizes: _Sizes, analyser: Callable[[Model, _Shapes], Analysis]) -> list[Analysis]:
    """The analysis at two sizes N, N + 1, large enough that a quantifier's growth shows.

    The smaller one also carries the problems of the two sizes' term-by-term comparison: the
    model must be uniform there, and the parts the walk took as one quantifier instance must be
    the same at the same position in the bigger model."""
    params = analyser(sizes.model(4), _Shapes()).max_params
    for n in (params + 3, params + 2):  # at least two Regions beyond the parameters
        try:
            models = [sizes.model(n), sizes.model(n + 1)]
        except ModelError:
            continue  # the factory caps the size; try a smaller pair
        shapes = _Shapes()  # shared, so that the two sizes' parts can be compared
        analyses = [analyser(model, shapes) for model in models]
        small, big = sizes.pair(n, n + 1)
        uniform = sizes.uniform(n, n + 1)  # else instances change anyway: one reason is enough
        unstable = [] if uniform else _unstable_instances(small, big, shapes, analyses[0].instances)
        analyses[0].problems += uniform + unstable
        return analyses
    raise ModelError(f"the model cannot be built with {params + 3} elements ({sizes.option})")


def _own(model: Model, prop: str, lemmas: LemmaSource) -> list[Expr]:
    return [e for name, e in _named(lemmas(model)) if name != prop]


def _invariant(
    model: Model, prop: str, lemmas: LemmaSource
) -> tuple[list[Expr], Callable[[ActionInstance], Expr | None] | None]:
    """The conjuncts of Inv and, for an action property, its expression per instance.

    A state invariant is part of Inv. An action property is not: Inv is the lemmas alone, and the
    step must show the property on every transition from a state satisfying them."""
    p = model.get_property(prop)
    own = _own(model, prop, lemmas)
    if p.kind == ALWAYS:
        return [state_property(p).expr, *own], None
    if p.kind == ACTION:
        return own, p.for_action
    raise ModelError(f"{prop} is a {p.kind} property; only invariants and action properties")


def _check_sizes(
    sizes: _Sizes, checked: list[int], route: str, started: float, max_seconds: float | None
) -> tuple[list[tuple[int, InductionResult]], list[str], list[int]]:
    """Run the route's Z3 checks at each size, stopping at the first failure.

    Returns the checks, the problems of the term-by-term comparison of consecutive sizes
    (:func:`check_uniform`), and the sizes the factory could build (it may cap the size below
    cutoff + 1, the sanity check)."""
    checks: list[tuple[int, InductionResult]] = []
    problems: list[str] = []
    built: list[int] = []
    for n in checked:
        try:
            model = sizes.model(n)
        except ModelError:
            break
        built.append(n)
        if n - 1 in built:
            problems += sizes.uniform(n - 1, n)
        for check in _size_checks(model, sizes.prop, sizes.lemmas, route):
            remaining = (
                None if max_seconds is None else max_seconds - (time.perf_counter() - started)
            )
            if remaining is not None and remaining <= 0:
                return checks, problems, built
            result = check(remaining)
            checks.append((n, result))
            if not result.holds:
                return checks, problems, built
    return checks, problems, built


def _size_checks(model: Model, prop: str, lemmas: LemmaSource, route: str) -> list:
    """The Z3 checks of a route at one size, as functions of the remaining time."""
    own = [lemma for lemma in lemmas(model) if _named([lemma])[0][0] != prop]
    if route == COMBINED:
        return [lambda t: inductive(model, prop, own, max_seconds=t)]
    first, *rest = [Invariant(n, e) for n, e in _named(own)]
    return [
        lambda t: inductive(model, first, rest, max_seconds=t),
        lambda t: implied(model, prop, own, max_seconds=t),
    ]
