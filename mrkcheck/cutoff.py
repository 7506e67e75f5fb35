"""Proofs for any number of elements of a universe (e.g. Regions), by a checked cutoff argument.

Ground expansion makes every model finite: ``build(regions=n)`` is a different model for each n.
To prove an invariant for *every* n we use a small-model argument (see ``docs/any-regions.md``):

**Restriction.** For a state s of the model with Regions U and a subset R of U, let s|R keep the
slots whose Region indices lie in R (slots indexed by no Region are kept). Quantifiers over Regions
expand to conjunctions (forall) and disjunctions (exists); restricting drops the instances for
Regions outside R.

**Lemma.** Let Inv be the conjunction of the property and its lemmas. Suppose a CTI exists with
n Regions: s satisfies Inv, instance a fires, s -> s', and s' breaks a conjunct phi(r1..rc) of Inv.
Let R = params(a) + {r1..rc} + W, where W holds one witness Region for each existential that a's
guard needs true, and for each quantifier that a's effects read (so the restricted quantifier has
the same truth value). Then (s|R, a, s'|R) is a CTI of the model with |R| Regions:
- s|R satisfies Inv, because every conjunct of Inv mentions at most c Regions and contains no
  quantifier over Regions (checked: the number of Regions a conjunct mentions does not grow with n),
  so the conjuncts of Inv over R are a subset of those over U;
- a is enabled in s|R: universal parts of a guard only lose conjuncts, existential parts keep their
  witness, and parts over params(a) are unchanged;
- a's effect on s|R equals s'|R: each assigned value reads params(a), its own Region, and
  quantifiers whose truth value is pinned by W;
- phi(r1..rc) reads only r1..rc, which are in R.
Hence if Inv is inductive for every size up to ``cutoff = max_a(|params(a)| + |W(a)|) + c``, it is
inductive for every size. Init restricts to Init (each slot's initial value does not depend on which
Region indexes it: checked), so the base case also transfers.

**What is computed and checked here.** params, c and W are computed from the ground expressions
(:func:`analyse`), conservatively: a count over Regions, an alternation forall-exists in a guard, or
an existential in an invariant has no bounded witness set, which shows up as a bound that grows
from size N to N + 1; then no cutoff is claimed. The Region universe must be symmetric with one
class (interchangeable Regions), else restriction and renaming could change the model. Induction is
then checked with Z3 at every size 1..cutoff, plus cutoff + 1 as a sanity check of the bound.

**What is assumed.** That the model factory expands its quantifiers uniformly: the model with R
Regions is the restriction of the model with more Regions (the same action bodies and property
bodies, instantiated over fewer elements). This is how ``ModelBuilder`` works when an action body
quantifies only with ``forall``/``exists`` over the universe, but it is a property of the model's
text that a finite check cannot establish for all n; :func:`check_uniform` tests it on the sizes
used (instance labels and initial values agree under restriction).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mrkcheck.expr import (
    BOOL,
    And,
    Arith,
    Compare,
    Const,
    Expr,
    Ite,
    Not,
    Or,
    Var,
    or_,
    variables_of,
)
from mrkcheck.spec import ALWAYS, Model, ModelError, Universe
from mrkcheck.symbolic import InductionResult, Lemma, _named, inductive

Factory = Callable[..., Model]
LemmaSource = Callable[[Model], Sequence[Lemma]]


@dataclass
class Analysis:
    """The quantities of the cutoff argument, computed on one instance size."""

    size: int
    params: int  # max distinct Regions among one action instance's parameters
    conjunct_regions: int  # max Regions one conjunct of the property or a lemma mentions
    witnesses: int  # max witness Regions one action instance needs (see module docstring)
    bound: int | None  # max over instances of params + witnesses, plus conjunct_regions
    worst: str = ""  # the instance that attains the bound
    problems: list[str] = field(default_factory=list)


@dataclass
class AnyRegionsResult:
    """The verdict for one property: proved for any size, only for some sizes, or refuted."""

    property: str
    proved_any: bool
    cutoff: int | None
    analysis: list[Analysis]
    checks: list[tuple[int, InductionResult]]  # (size, result) per size checked, in order
    reason: str = ""
    seconds: float = 0.0
    universe: str = "Region"

    @property
    def failure(self) -> tuple[int, InductionResult] | None:
        return next(((n, c) for n, c in self.checks if not c.holds), None)

    def describe(self) -> str:
        sizes = ", ".join(str(n) for n, _ in self.checks) or "none"
        if self.proved_any:
            return (
                f"proved for any number of {self.universe} elements (cutoff {self.cutoff}; "
                f"induction checked at sizes {sizes})"
            )
        if self.failure is not None:
            n, failed = self.failure
            what = "times out" if failed.timed_out else "fails"
            return f"NOT proved: induction {what} at size {n}"
        return f"proved only at sizes {sizes}: {self.reason}"


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
        self._memo: dict[int, frozenset[str]] = {}
        self._keep: list[Expr] = []

    def of(self, e: Expr) -> frozenset[str]:
        key = id(e)
        if key not in self._memo:
            self._keep.append(e)
            if isinstance(e, Var):
                found = self.slot[e.slot]
            elif isinstance(e, Const):
                found = frozenset()
            else:
                found = frozenset().union(*(self.of(c) for c in _children(e)))
            self._memo[key] = found
        return self._memo[key]

    def params(self, inst) -> frozenset[str]:
        return frozenset(v for _, v in inst.params if v in self.elements)


def _children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Not):
        return (e.arg,)
    if isinstance(e, (And, Or)):
        return e.args
    if isinstance(e, Ite):
        return (e.cond, e.then, e.other)
    if isinstance(e, (Compare, Arith)):
        return (e.left, e.right)
    return ()


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

    def __init__(self, regions: _Regions):
        self.regions = regions

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
            return max(self._chosen(a, pos, named) for a in e.args)
        if isinstance(e, Ite):
            then = self.truth(e.cond, True, named) + self.truth(e.then, pos, named)
            other = self.truth(e.cond, False, named) + self.truth(e.other, pos, named)
            return max(then, other)
        if isinstance(e, Compare):
            return self.value(e.left, named) + self.value(e.right, named)
        if isinstance(e, Var):
            return len(out)
        return UNBOUNDED

    def _kept(self, part: Expr, pos: bool, named: frozenset[str]) -> int:
        out = self.out(part, named)
        if not out:
            return 0
        return self.truth(part, pos, named if self._spans(out, named) else named | out)

    def _chosen(self, part: Expr, pos: bool, named: frozenset[str]) -> int:
        """Witnesses for keeping one true disjunct: a quantifier body instance needs its Regions;
        a part holding a nested quantifier is analysed inside."""
        out = self.out(part, named)
        if not out:
            return 0
        return self.truth(part, pos, named) if self._spans(out, named) else len(out)

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


def _top_conjuncts(e: Expr) -> list[Expr]:
    """The conjuncts of ``e`` in negation normal form at the top (and, negated or)."""
    if isinstance(e, And):
        return [c for a in e.args for c in _top_conjuncts(a)]
    if isinstance(e, Not) and isinstance(e.arg, Or):
        return [c for a in e.arg.args for c in _top_conjuncts(Not(a))]
    if isinstance(e, Not) and isinstance(e.arg, Not):
        return _top_conjuncts(e.arg.arg)
    if isinstance(e, Or):  # A \/ (B1 /\ B2) = (A \/ B1) /\ (A \/ B2): distribute one conjunction
        for i, arg in enumerate(e.args):
            parts = _top_conjuncts(arg)
            if len(parts) > 1:
                rest = e.args[:i] + e.args[i + 1 :]
                return [c for p in parts for c in _top_conjuncts(or_(*rest, p))]
    return [e]


def analyse(model: Model, universe: str, exprs: Sequence[Expr]) -> Analysis:
    """Compute params, conjunct Regions and witnesses of ``model`` for the invariant ``exprs``.

    Instances that write no variable the invariant reads, with values that stay in their domains,
    cannot break it at any size (frame), so they need no witnesses and are skipped.
    """
    regions = _Regions(model, universe)
    wit = _Witness(regions)
    c = max((len(regions.of(x)) for e in exprs for x in _top_conjuncts(e)), default=0)
    read = {v.name for e in exprs for v in variables_of(e)}
    domains = _slot_domains(model)
    params, witnesses, bound, worst = 0, 0, 0, ""
    for inst in model.instances:
        if _harmless(inst, read, domains):
            continue
        named = regions.params(inst)
        need = wit.truth(inst.enabled, True, named)
        for target, value in inst.effects:
            own = regions.slot[target.slot]
            need += wit.value(value, named | own)
        need = min(need, UNBOUNDED)
        params, witnesses = max(params, len(named)), max(witnesses, need)
        if len(named) + need > bound:
            bound, worst = len(named) + need, inst.label
    problems = []
    u = regions.universe
    if not u.symmetric or len(set(u.classes)) > 1:
        problems.append(f"the {universe} universe is not one class of interchangeable elements")
    total = None if bound >= UNBOUNDED else bound + c
    return Analysis(len(u), params, c, witnesses, total, worst, problems)


def _slot_domains(model: Model) -> dict[int, tuple[int, int]]:
    return {slot: (var.domain.lo, var.domain.hi) for var, _, slot in model.schema.slots()}


def _harmless(inst, read: set[str], domains: dict[int, tuple[int, int]]) -> bool:
    """The instance writes none of ``read`` and every value it writes is within its domain."""
    for target, value in inst.effects:
        if target.name in read or not _within(value, domains[target.slot], domains):
            return False
    return True


def _within(e: Expr, bounds: tuple[int, int], domains: dict[int, tuple[int, int]]) -> bool:
    """Every value ``e`` can take lies in ``bounds`` (constants, variables of a narrower domain,
    if-then-else of those, formulas as 0/1); anything else counts as possibly outside."""
    lo, hi = bounds
    if isinstance(e, Const):
        return lo <= e.value <= hi
    if isinstance(e, Var):
        vlo, vhi = domains[e.slot]
        return lo <= vlo and vhi <= hi
    if isinstance(e, Ite):
        return _within(e.then, bounds, domains) and _within(e.other, bounds, domains)
    if e.sort == BOOL:
        return lo <= 0 and hi >= 1
    return False


def check_uniform(model: Model, bigger: Model, universe: str) -> list[str]:
    """Problems found comparing a model with the restriction of a bigger one to its Regions.

    Checks the two facts the argument needs from the factory on these sizes: every instance of
    the smaller model exists in the bigger one, and initial values do not depend on the Region.
    """
    problems = []
    big_labels = {i.label for i in bigger.instances}
    missing = [i.label for i in model.instances if i.label not in big_labels]
    if missing:
        problems.append(f"instances missing in the bigger model: {', '.join(missing[:3])}")
    elements = set(model.universe(universe).elements)
    if not elements <= set(bigger.universe(universe).elements):
        problems.append(f"the {universe} names of the smaller model are not a prefix")
        return problems
    for init in bigger.initial:
        seen: dict[tuple, int] = {}
        for var, idx, slot in bigger.schema.slots():
            key = (var.name,) + tuple(
                e for e, over in zip(idx, var.over, strict=True) if over.name != universe
            )
            if seen.setdefault(key, init[slot]) != init[slot]:
                problems.append(f"the initial value of {var.name} depends on the {universe}")
                break
    return problems


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
    """Prove invariant ``prop`` for every value of ``option`` (the number of Regions)."""
    started = time.perf_counter()
    base = {k: v for k, v in (base or {}).items() if k != option}
    universe = find_universe(factory, option, base).name
    analyses = _analyses(factory, prop, lemmas, option, base, universe)
    first, second = analyses
    cutoff = first.bound
    reason = ""
    if cutoff is None or second.bound != cutoff:
        reason = "the witness bound grows with the number of Regions (count, alternation or exists)"
        cutoff = None
    elif first.problems or second.problems:
        reason = "; ".join(first.problems + second.problems)
        cutoff = None
    sizes = range(1, (cutoff or 0) + 2) if cutoff else range(1, 4)
    checks, problems = _check_sizes(
        factory, prop, lemmas, option, base, universe, sizes, started, max_seconds
    )
    if problems and cutoff is not None:
        reason, cutoff = "; ".join(problems), None
    proved = cutoff is not None and all(c.holds for _, c in checks) and len(checks) == len(sizes)
    failed = any(not c.holds for _, c in checks)
    if not proved and not reason and not failed and len(checks) < len(sizes):
        reason = "time limit reached"
    return AnyRegionsResult(
        prop, proved, cutoff, analyses, checks, reason, time.perf_counter() - started, universe
    )


def _analyses(factory, prop, lemmas, option, base, universe) -> list[Analysis]:
    """The analysis at two sizes N, N + 1, large enough that a quantifier's growth shows."""
    probe = factory(**{**base, option: 4})
    params = analyse(probe, universe, _invariant(probe, prop, lemmas)).params
    for n in (params + 3, params + 2):  # at least two Regions beyond the parameters
        try:
            models = [factory(**{**base, option: n}), factory(**{**base, option: n + 1})]
        except ModelError:
            continue  # the factory caps the size; try a smaller pair
        return [analyse(m, universe, _invariant(m, prop, lemmas)) for m in models]
    raise ModelError(f"the model cannot be built with {params + 3} {universe} elements")


def _invariant(model: Model, prop: str, lemmas: LemmaSource) -> list[Expr]:
    p = model.get_property(prop)
    if p.kind != ALWAYS:
        raise ModelError(f"{prop} is not a state invariant; only those are proved for any size")
    return [p.expr] + [e for _, e in _named(lemmas(model))]  # type: ignore[list-item]


def _check_sizes(factory, prop, lemmas, option, base, universe, sizes, started, max_seconds):
    checks: list[tuple[int, InductionResult]] = []
    problems: list[str] = []
    previous: Model | None = None
    for n in sizes:
        model = factory(**{**base, option: n})
        if previous is not None:
            problems += check_uniform(previous, model, universe)
        previous = model
        remaining = None if max_seconds is None else max_seconds - (time.perf_counter() - started)
        if remaining is not None and remaining <= 0:
            break
        result = inductive(model, prop, lemmas(model), max_seconds=remaining)
        checks.append((n, result))
        if not result.holds:
            break
    return checks, problems
