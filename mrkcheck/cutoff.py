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
grows from size N to N + 1 and no cutoff is claimed. The Region universe must be symmetric with one
class (interchangeable Regions), else restriction and renaming could change the model. The checks
run with Z3 at every size 1..cutoff, plus cutoff + 1 as a sanity check when the factory builds it.

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
    And,
    Arith,
    Compare,
    Const,
    Expr,
    Ite,
    Not,
    Or,
    Var,
    children,
    same,
    variables_of,
)
from mrkcheck.spec import ACTION, ALWAYS, ActionInstance, Model, ModelError, Property, Universe
from mrkcheck.symbolic import InductionResult, Lemma, _named, implied, inductive
from mrkcheck.z3_translate import within

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


COMBINED = "combined"  # Inv = property /\ lemmas is inductive
VIA_LEMMAS = "via lemmas"  # Inv = lemmas is inductive, and Inv => property


@dataclass
class AnyRegionsResult:
    """The verdict for one property: proved for any size, only for some sizes, or refuted.

    ``analysis`` holds the step analyses at two sizes; on the route via lemmas,
    ``implication`` holds those of "lemmas imply the property". ``checks`` lists every Z3 check
    with its size: the induction steps, and on the route via lemmas the implications."""

    property: str
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
                found = frozenset().union(*(self.of(c) for c in children(e)))
            self._memo[key] = found
        return self._memo[key]

    def params(self, inst) -> frozenset[str]:
        return frozenset(v for _, v in inst.params if v in self.elements)


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
        for body in bodies:
            out = self.out(body, named)
            if self._spans(out, named):
                return UNBOUNDED  # a body holding a nested quantifier: not kept unchanged
            per = max(per, len(out))
        kept = _COUNT_KEPT.get((op, pos), 0)
        return min(UNBOUNDED, max(kept(k), 0) * per) if callable(kept) else 0

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
    """A sum of constants and ``Ite(body, 1, 0)`` terms, as :func:`mrkcheck.expr.count` builds
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
    wit = _Witness(regions)
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
    return Analysis(len(u), params, own_broken, need, total, worst, problems, pre, max_params)


def _step_witnesses(wit: _Witness, regions: _Regions, inst: ActionInstance, named) -> int:
    """Witnesses that keep ``inst`` enabled and every value it assigns (W_guard + W_effects)."""
    need = wit.truth(inst.enabled, True, named)
    for target, value in inst.effects:
        need += wit.value(value, named | regions.slot[target.slot])
    return need


def analyse_implication(model: Model, universe: str, exprs: Sequence[Expr], prop: Expr) -> Analysis:
    """Terms of the cutoff for "every state satisfying ``exprs`` satisfies ``prop``".

    A state that satisfies ``exprs`` and breaks ``prop`` restricts to W_inv + W_broken Regions
    (witnesses that keep every conjunct of ``exprs`` true and ``prop`` false) doing the same, so
    checking the implication at every size up to that bound checks it at every size."""
    regions = _Regions(model, universe)
    wit = _Witness(regions)
    none: frozenset[str] = frozenset()
    pre = min(UNBOUNDED, sum(wit.truth(e, True, none) for e in exprs))
    broken = wit.truth(prop, False, none)
    total = None if pre + broken >= UNBOUNDED else pre + broken
    u = regions.universe
    problems = []
    if not u.symmetric or len(set(u.classes)) > 1:
        problems.append(f"the {universe} universe is not one class of interchangeable elements")
    return Analysis(len(u), 0, broken, 0, total, "", problems, pre)


def _slot_domains(model: Model) -> dict[int, tuple[int, int]]:
    return {slot: (var.domain.lo, var.domain.hi) for var, _, slot in model.schema.slots()}


def _harmless(inst, read: set[str], domains: dict[int, tuple[int, int]]) -> bool:
    """The instance writes none of ``read`` and every value it writes is within its domain."""
    for target, value in inst.effects:
        if target.name in read or not within(value, domains[target.slot], domains):
            return False
    return True


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
    routes = _routes(factory, prop, lemmas, option, base, universe)
    results: list[AnyRegionsResult] = []
    for route, analyses, implication in routes:
        remaining = None if max_seconds is None else max_seconds - (time.perf_counter() - started)
        result = _prove_route(
            factory, prop, lemmas, option, base, universe, route, analyses, implication, remaining
        )
        results.append(result)
        if result.proved_any:
            break
    chosen = results[-1] if results[-1].proved_any else results[0]
    chosen.seconds = time.perf_counter() - started
    return chosen


def _routes(factory, prop, lemmas, option, base, universe):
    """(route, step analyses, implication analyses) to try, best cutoff first."""

    def combined(m: Model) -> Analysis:
        return analyse(m, universe, *_invariant(m, prop, lemmas))

    def step(m: Model) -> Analysis:
        return analyse(m, universe, _own(m, prop, lemmas))

    def implication(m: Model) -> Analysis:
        expr = m.get_property(prop).expr
        return analyse_implication(m, universe, _own(m, prop, lemmas), expr)  # type: ignore[arg-type]

    routes = [(COMBINED, _analyses(factory, option, base, combined), [])]
    probe = factory(**{**base, option: 2})
    if probe.get_property(prop).kind == ALWAYS and _own(probe, prop, lemmas):
        via = (VIA_LEMMAS, _analyses(factory, option, base, step))
        routes.append((*via, _analyses(factory, option, base, implication)))
    return sorted(routes, key=lambda r: _route_cutoff(r[1], r[2])[0] or UNBOUNDED)


def _route_cutoff(step: list[Analysis], implication: list[Analysis]) -> tuple[int | None, str]:
    """The cutoff of a route, or None with the reason."""
    bounds = [a.bound for a in step + implication]
    first = [a.bound for a in (step[0], *implication[:1])]
    second = [a.bound for a in (step[1], *implication[1:])]
    if None in bounds or first != second:
        return None, "the witness bound grows with the number of Regions"
    problems = [p for a in step + implication for p in a.problems]
    if problems:
        return None, "; ".join(dict.fromkeys(problems))
    return max(b for b in bounds if b is not None), ""


def _prove_route(
    factory, prop, lemmas, option, base, universe, route, analyses, implication, max_seconds
) -> AnyRegionsResult:
    started = time.perf_counter()
    cutoff, reason = _route_cutoff(analyses, implication)
    sizes = list(range(1, cutoff + 2)) if cutoff else [1, 2, 3]  # cutoff + 1: a sanity check
    checks, problems, built = _check_sizes(
        factory, prop, lemmas, option, base, universe, sizes, route, started, max_seconds
    )
    if problems and cutoff is not None:
        reason, cutoff = "; ".join(problems), None
    failed = any(not c.holds for _, c in checks)
    needed = set(range(1, (cutoff or 0) + 1))
    proved = cutoff is not None and not failed and needed <= {n for n, _ in checks}
    if not proved and not reason and not failed:
        reason = f"time limit reached, or the model cannot be built with {cutoff} {universe}s"
    if proved and cutoff + 1 not in built:
        reason = f"(the model cannot be built with {cutoff + 1} {universe}s: no sanity check)"
    return AnyRegionsResult(
        prop,
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


def _analyses(factory, option, base, analyser: Callable[[Model], Analysis]) -> list[Analysis]:
    """The analysis at two sizes N, N + 1, large enough that a quantifier's growth shows."""
    params = analyser(factory(**{**base, option: 4})).max_params
    for n in (params + 3, params + 2):  # at least two Regions beyond the parameters
        try:
            models = [factory(**{**base, option: n}), factory(**{**base, option: n + 1})]
        except ModelError:
            continue  # the factory caps the size; try a smaller pair
        return [analyser(m) for m in models]
    raise ModelError(f"the model cannot be built with {params + 3} elements ({option})")


def _own(model: Model, prop: str, lemmas: LemmaSource) -> list[Expr]:
    return [e for name, e in _named(lemmas(model)) if name != prop]


def _invariant(model: Model, prop: str, lemmas: LemmaSource):
    """The conjuncts of Inv and, for an action property, its expression per instance.

    A state invariant is part of Inv. An action property is not: Inv is the lemmas alone, and the
    step must show the property on every transition from a state satisfying them."""
    p = model.get_property(prop)
    own = _own(model, prop, lemmas)
    if p.kind == ALWAYS:
        return [p.expr, *own], None  # type: ignore[list-item]
    if p.kind == ACTION:
        return own, p.for_action
    raise ModelError(f"{prop} is a {p.kind} property; only invariants and action properties")


def _check_sizes(
    factory, prop, lemmas, option, base, universe, sizes, route, started, max_seconds
) -> tuple[list[tuple[int, InductionResult]], list[str], list[int]]:
    """Run the route's Z3 checks at each size, stopping at the first failure.

    Returns the checks, problems found by check_uniform, and the sizes the factory could build
    (it may cap the size below cutoff + 1, the sanity check)."""
    checks: list[tuple[int, InductionResult]] = []
    problems: list[str] = []
    built: list[int] = []
    previous: Model | None = None
    for n in sizes:
        try:
            model = factory(**{**base, option: n})
        except ModelError:
            break
        built.append(n)
        if previous is not None:
            problems += check_uniform(previous, model, universe)
        previous = model
        for check in _size_checks(model, prop, lemmas, route):
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
    first, *rest = [Property(ALWAYS, n, e) for n, e in _named(own)]
    return [
        lambda t: inductive(model, first, rest, max_seconds=t),
        lambda t: implied(model, prop, own, max_seconds=t),
    ]
