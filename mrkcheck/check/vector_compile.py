"""Compile a model's expressions to numpy code that works on a whole level of states at once.

Where :mod:`mrkcheck.check.compile` writes one Python function that steps one state, this module
writes functions whose arguments are columns: ``c[slot]`` is an int16 array holding that slot's
value in every state of a chunk of the level. Generated from the same expression trees through
:func:`mrkcheck.lang.expr.fold`, so the engines cannot disagree on what a model says.

- ``guards(c)``: one boolean mask per action instance (None for a guard that is false by
  construction). Every subexpression is computed once per chunk and shared between the guards
  that contain it (the KMS guards share most of their comparisons), instead of once per state and
  instance as the per-state engine does.
- ``fire[i](c, idx, k)``: the successors of the states ``idx`` under instance ``i`` as key words:
  the parents' words ``k`` with the assigned slots' bits replaced (constants folded into one mask
  per word), the domain of computed values checked, and the action properties of instance ``i``
  evaluated on (pre, post) pairs.
- ``invariants(c)`` / ``goals(c)`` / ``terminal(c)``: one mask per state property.

Constants are folded as the text is written, and locals nothing needs are dropped: in an action
property, a slot the action does not assign reads the same local before and after, so ``x' = x``,
``x <= x'`` or ``b => b'`` become True and most of the property with them (on KMS 3 Regions x 2
key sets the generated text shrinks from 32,000 lines to 7,200; on KMS 4 Regions the action
properties had taken about half of the search's time).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mrkcheck.check.compile import EvaluationError, _possible_values, _slot_domains
from mrkcheck.check.packing import Layout
from mrkcheck.lang.expr import (
    BOOL,
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
)
from mrkcheck.lang.model import ACTION, ALWAYS, SOMETIMES, ActionInstance, Model, state_property

Masks = list[tuple[int, np.ndarray]]  # (property position, mask) pairs
Fire = Callable[[list[np.ndarray], np.ndarray, list[np.ndarray]], tuple[list[np.ndarray], Masks]]


class _Source(Fold[str]):
    """Each node as the name of a local computed once (common subexpressions shared by text).

    ``read(var)`` says how a slot is read; booleans are stored as 0/1, so a boolean slot becomes
    ``!= 0`` before it meets ``~``, ``&`` or ``|``, whose meaning on integers is bitwise."""

    purpose = "compile for the vectorised backend"

    def __init__(self, read: Callable[[Var], str], indent: str = "    "):
        self.read = read
        self.indent = indent
        self.lines: list[str] = []
        self.names: dict[str, str] = {}
        self.memo: dict[int, Any] = {}
        self.negated: dict[str, str] = {}  # ~x's local -> x's

    def of(self, expr: Expr) -> str:
        return fold(expr, self, self.memo)

    def _let(self, text: str) -> str:
        name = self.names.get(text)
        if name is None:
            name = self.names[text] = f"_{len(self.names)}"
            self.lines.append(f"{self.indent}{name} = {text}")
        return name

    def const(self, e: Const) -> str:
        return repr(bool(e.value)) if e.sort == BOOL else str(e.value)

    def var(self, e: Var) -> str:
        read = self.read(e)
        if _literal(read):  # an action's constant effect, read in the post-state
            return repr(int(read) != 0) if e.sort == BOOL else read
        text = read if _LOCAL.fullmatch(read) else self._let(read)  # a computed effect
        return self._let(f"({text} != 0)") if e.sort == BOOL else text

    def not_(self, e: Not, arg: str) -> str:
        if arg in _TRUTH:
            return repr(not _TRUTH[arg])
        if arg in self.negated:
            return self.negated[arg]
        name = self._let(f"~{arg}")
        self.negated[name] = arg
        return name

    def and_(self, e: And, args: list[str]) -> str:
        return self._junction(args, "&", absorbing=False)

    def or_(self, e: Or, args: list[str]) -> str:
        return self._junction(args, "|", absorbing=True)

    def _junction(self, args: list[str], op: str, absorbing: bool) -> str:
        """``args`` joined by ``op``, constants folded: a frame condition (``x' = x`` on a slot
        the action does not assign) becomes True here, and with it most of an action
        property's text, instead of a comparison of an array with itself on every successor."""
        if repr(absorbing) in args or any(self.negated.get(a) in args for a in args):
            return repr(absorbing)  # x | ~x, x & ~x
        kept = list(dict.fromkeys(a for a in args if a != repr(not absorbing)))
        if not kept:
            return repr(not absorbing)
        return kept[0] if len(kept) == 1 else self._let("(" + f" {op} ".join(kept) + ")")

    def ite(self, e: Ite, cond: str, then: str, other: str) -> str:
        if cond in _TRUTH:
            return then if _TRUTH[cond] else other
        if then == other:
            return then
        return self._let(f"_where({cond}, {then}, {other})")

    def compare(self, e: Compare, left: str, right: str) -> str:
        if left == right:  # the same local or literal: integers, so no NaN
            return repr(e.op in ("==", "<="))
        a, b = _constant(left), _constant(right)
        if a is not None and b is not None:  # never a scalar where the engine wants a mask
            return repr(_COMPARE[e.op](a, b))
        return self._let(f"({left} {e.op} {right})")

    def arith(self, e: Arith, left: str, right: str) -> str:
        if _literal(left) and _literal(right):
            return str(int(left) + int(right) if e.op == "+" else int(left) - int(right))
        if right == "0":
            return left
        if left == "0" and e.op == "+":
            return right
        return self._let(f"({left} {e.op} {right})")


_TRUTH = {"True": True, "False": False}
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _literal(text: str) -> bool:
    """Whether ``text`` is an integer constant (booleans are spelled True and False)."""
    return text.lstrip("-").isdigit()


def _constant(text: str) -> int | None:
    """The value of ``text`` if it is a constant, integer or boolean (as 0 or 1)."""
    if text in _TRUTH:
        return int(_TRUTH[text])
    return int(text) if _literal(text) else None


_LOCAL = re.compile(r"\b_\d+\b")


def _free_early(lines: list[str], results: list[str]) -> list[str]:
    """``lines`` with each local deleted after its last use (except those in ``results``), so
    that a chunk's temporaries do not all live until the function returns."""
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        for name in _LOCAL.findall(line.split("=", 1)[1]):
            last[name] = i
    kept = set(_LOCAL.findall(" ".join(results)))
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        dead = [n for n in _LOCAL.findall(line.split("=", 1)[1]) if last[n] == i and n not in kept]
        if dead:
            out.append(f"    del {', '.join(sorted(set(dead)))}")
    return out


def _mask(source: _Source, expr: Expr) -> str:
    """A boolean array for ``expr`` (constants as whole masks, so ``~`` stays boolean)."""
    if isinstance(expr, Const):
        return "_all" if expr.value else "_none"
    text = source.of(expr)
    return {"True": "_all", "False": "_none"}.get(text, text)


@dataclass
class VectorCode:
    """The generated functions of one model and their source (for inspection)."""

    guards: Callable[[list[np.ndarray]], list[np.ndarray | None]]
    fire: list[Fire]
    invariants: Callable[[list[np.ndarray]], Masks]
    goals: Callable[[list[np.ndarray]], Masks]
    terminal: Callable[[list[np.ndarray]], np.ndarray]
    source: str


def compile_vector(model: Model, layout: Layout) -> VectorCode:
    """Generate and compile the level-at-a-time functions of ``model`` for keys in ``layout``."""
    props = model.properties
    invariants = [i for i, p in enumerate(props) if p.kind == ALWAYS]
    goals = [i for i, p in enumerate(props) if p.kind == SOMETIMES]
    action_props = [i for i, p in enumerate(props) if p.kind == ACTION]
    namespace: dict[str, Any] = {
        "_where": np.where,
        "_np": np,
        "_oob": _out_of_domain,
        "_u64": np.uint64,
    }
    chunks = [_guards_code(model)]
    for index, inst in enumerate(model.instances):
        chunks.append(_fire_code(index, inst, model, layout, action_props, namespace))
    chunks.append(_state_masks_code("invariants", [(p, _inv(model, p)) for p in invariants]))
    chunks.append(_state_masks_code("goals", [(p, state_property(props[p]).expr) for p in goals]))
    chunks.append(_terminal_code(model))
    name = f"<mrkcheck-vectorised:{model.name}>"
    for chunk in chunks:  # one function at a time: compiling it all at once takes 60 MB
        exec(compile(chunk, name, "exec"), namespace)  # noqa: S102
    source = "\n".join(chunks) + "\n"
    return VectorCode(
        namespace["guards"],
        [namespace[f"fire_{i}"] for i in range(len(model.instances))],
        namespace["invariants"],
        namespace["goals"],
        namespace["terminal"],
        source,
    )


def _inv(model: Model, p: int) -> Expr:
    return state_property(model.properties[p]).expr


def _read_columns(v: Var) -> str:
    return f"c[{v.slot}]"


def _guards_code(model: Model) -> str:
    source = _Source(_read_columns)
    results = []
    for inst in model.instances:
        enabled = inst.enabled
        if isinstance(enabled, Const):
            results.append("_all" if enabled.value else "None")
        else:
            results.append({"True": "_all", "False": "None"}.get(text := source.of(enabled), text))
    return "\n".join(
        [
            "def guards(c):",
            "    _all = _np.ones(len(c[0]), dtype=bool)",
            *_free_early(_live(source.lines, results), results),
            f"    return [{', '.join(results)}]",
        ]
    )


def _state_masks_code(name: str, exprs: list[tuple[int, Expr]]) -> str:
    source = _Source(_read_columns)
    results = [f"({p}, {_mask(source, e)})" for p, e in exprs]
    return "\n".join(
        [
            f"def {name}(c):",
            "    _all = _np.ones(len(c[0]), dtype=bool)",
            "    _none = ~_all",
            *_free_early(_live(source.lines, results), results),
            f"    return [{', '.join(results)}]",
        ]
    )


def _terminal_code(model: Model) -> str:
    source = _Source(_read_columns)
    result = "_none" if model.terminal is None else _mask(source, model.terminal)
    return "\n".join(
        [
            "def terminal(c):",
            "    _all = _np.ones(len(c[0]), dtype=bool)",
            "    _none = ~_all",
            *_free_early(_live(source.lines, [result]), [result]),
            f"    return {result}",
        ]
    )


def _fire_code(
    index: int,
    inst: ActionInstance,
    model: Model,
    layout: Layout,
    action_props: list[int],
    namespace: dict[str, Any],
) -> str:
    """``fire_<index>(c, idx, k)``: successor words and violated action properties."""
    domains = _slot_domains(model)
    pre = _Source(lambda v: f"c[{v.slot}][idx]")
    lines = ["    _all = _np.ones(len(idx), dtype=bool)", "    _none = ~_all"]
    clear = [(1 << 64) - 1] * layout.words
    constant = [0] * layout.words
    computed: dict[int, str] = {}  # slot -> the local holding its new value
    constants: dict[int, int] = {}  # slot -> its new value, when the action sets a constant
    checks: list[str] = []
    words_lines: list[str] = []
    for target, value in sorted(inst.effects, key=lambda e: e[0].slot):
        s = target.slot
        lo, hi, label = domains[s]
        clear[layout.word[s]] &= ~(((1 << layout.bits[s]) - 1) << layout.shift[s])
        possible = _possible_values(value)
        in_domain = possible is not None and all(lo <= v <= hi for v in possible)
        if isinstance(value, Const) and in_domain:
            constant[layout.word[s]] |= (value.value - layout.lo[s]) << layout.shift[s]
            constants[s] = int(value.value)
            continue
        if isinstance(value, Const):
            computed[s] = f"_np.full(len(idx), {value.value})"
        else:
            computed[s] = pre.of(value)
            if _literal(computed[s]) or computed[s] in _TRUTH:  # folded to a constant
                computed[s] = f"_np.full(len(idx), {computed[s]})"
        if not in_domain:
            v = computed[s]
            checks.append(f"    _bad = ({v} < {lo}) | ({v} > {hi})")
            checks.append("    if _bad.any():")
            checks.append(f"        _oob({inst.label!r}, {label!r}, {v}, _bad)")
    reads = pre.lines
    pre.lines = []
    for w in range(layout.words):
        namespace[f"_clear_{index}_{w}"] = np.uint64(clear[w])
        namespace[f"_set_{index}_{w}"] = np.uint64(constant[w])
        parts = [f"(k[{w}] & _clear_{index}_{w})"]
        if constant[w]:
            parts.append(f"_set_{index}_{w}")
        for target, _value in inst.effects:
            s = target.slot
            if layout.word[s] != w or not layout.bits[s]:
                continue
            if s in constants:
                continue  # folded into _set
            parts.append(
                f"((_np.asarray({computed[s]}, dtype=_np.int64) - {layout.lo[s]})"
                f".astype(_np.uint64) << _u64({layout.shift[s]}))"
            )
        words_lines.append(f"    w{w} = {' | '.join(parts)}")
    post = _Source(lambda v: _post_read(v, computed, constants))
    post.names, post.negated = pre.names, pre.negated  # share the pre-state's locals
    bad = []
    for p in action_props:
        expr = model.properties[p].for_action(inst)
        if expr is None or (isinstance(expr, Const) and expr.value):
            continue
        holds = _mask(post, expr)
        if holds != "_all":
            bad.append(f"({p}, ~{holds})")
    lines += _live(reads + post.lines, [*checks, *words_lines, *bad])
    lines += checks + words_lines
    words = ", ".join(f"w{w}" for w in range(layout.words))
    return "\n".join(
        [
            f"def fire_{index}(c, idx, k):  # {inst.label}",
            *lines,
            f"    return [{words}], [{', '.join(bad)}]",
        ]
    )


def _post_read(v: Var, computed: dict[int, str], constants: dict[int, int]) -> str:
    if v.primed and v.slot in constants:
        return str(constants[v.slot])
    if v.primed and v.slot in computed:
        return computed[v.slot]
    return f"c[{v.slot}][idx]"


def _live(lines: list[str], roots: list[str]) -> list[str]:
    """``lines`` (assignments to locals) without those whose local nothing in ``roots`` needs:
    folding constants leaves computations whose only use was folded away."""
    needed = set(_LOCAL.findall(" ".join(roots)))
    kept = []
    for line in reversed(lines):
        name, value = line.split("=", 1)
        if name.strip() in needed:
            kept.append(line)
            needed.update(_LOCAL.findall(value))
    return kept[::-1]


def _out_of_domain(label: str, slot_name: str, values: np.ndarray, bad: np.ndarray) -> None:
    value = int(np.asarray(values)[bad][0])
    raise EvaluationError(f"{label} would set {slot_name} to {value}, outside its domain")
