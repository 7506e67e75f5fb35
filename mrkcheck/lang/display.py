"""How models, states and properties show themselves in a notebook and at a Python prompt.

A built model holds every ground action instance and property expression: its dataclass repr runs
to hundreds of thousands of characters, which a notebook cell prints as a wall of text. These
short reprs (always under :data:`REPR_LIMIT` characters) and small HTML tables say what a reader
wants first: names, sizes, options, and a state as a table of named slots. The full data is still
there to inspect (``model.instances``, ``model.properties``).

This module reads models, schemas and properties by duck typing and imports no other module of
the language (``model.py`` imports it), so the language keeps one direction of imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from mrkcheck.errors import clip

if TYPE_CHECKING:
    from mrkcheck.lang.model import Model, Property, Schema, Variable

REPR_LIMIT = 1000  # characters of any repr here: a cell's output stays a few lines

TABLE_CSS = (
    "<style>.mrk-table{border-collapse:collapse;margin:.3em 1.2em .6em 0;display:inline-table;"
    "vertical-align:top}.mrk-table th,.mrk-table td{border:1px solid #d0d0d0;padding:.15em .5em;"
    "text-align:left;font-size:13px}.mrk-table th{background:#f2f2f2}.mrk-table td{font-family:"
    "ui-monospace,Menlo,Consolas,monospace}.mrk-table td.changed{background:#ffe27a;font-weight:"
    "700}.mrk-table td.witness{outline:2px solid #d62728;outline-offset:-2px}</style>"
)


def short(text: str, limit: int = REPR_LIMIT) -> str:
    return clip(text, limit)


def words(options: Iterable[tuple[str, Any]]) -> str:
    """Options as ``key=value`` words."""
    return " ".join(f"{k}={v}" for k, v in options)


# --- models ---------------------------------------------------------------------------------------


def model_repr(model: Model) -> str:
    """``<Model kms: 3 universes, 8 variables (41 slots), 294 action instances, ...>``."""
    env = sum(1 for i in model.instances if i.environment)
    source = f" from {model.source}" if model.source and model.source != model.name else ""
    text = (
        f"<Model {model.name}{source}: {len(model.universes)} universes, "
        f"{len(model.schema.variables)} variables ({model.schema.width} slots), "
        f"{len(model.instances)} action instances ({env} environment), "
        f"{len(model.properties)} properties; options: {words(model.options) or 'none'}>"
    )
    return short(text)


def model_html(model: Model) -> str:
    """Universes, variables, actions (with their instance counts) and properties as tables."""
    universes = _table(
        ("universe", "elements", "symmetric"),
        [(u.name, ", ".join(u.elements), "yes" if u.symmetric else "") for u in model.universes],
    )
    variables = _table(
        ("variable", "over", "values", "initially", "doc"),
        [
            (
                v.name,
                " x ".join(u.name for u in v.over),
                clip(", ".join(v.domain.values), 80),
                _initially(v, model.initial[0]),
                clip(v.doc, 80),
            )
            for v in model.schema.variables
        ],
    )
    counts: dict[str, list[int]] = {}
    for inst in model.instances:
        entry = counts.setdefault(inst.action, [0, int(inst.environment)])
        entry[0] += 1
    actions = _table(
        ("action", "instances", "kind"),
        [(a, str(n), "environment" if env else "call") for a, (n, env) in counts.items()],
    )
    properties = _table(("property", "kind", "rule"), [_property_row(p) for p in model.properties])
    doc = (model.doc or "").strip().splitlines()
    head = f"<p><b>{escape(model.name)}</b>"
    head += f": {escape(doc[0])}" if doc else ""
    head += f"<br><code>{escape(words(model.options))}</code></p>" if model.options else "</p>"
    return TABLE_CSS + head + universes + variables + actions + properties


def _initially(var: Variable, state: Sequence[int]) -> str:
    values = sorted({var.domain.show(state[var.slot(i)]) for i in var.indices()})
    return values[0] if len(values) == 1 else "varies"


def _property_row(prop: Property) -> tuple[str, str, str]:
    expected = " (expected violated)" if prop.expected == "violated" else ""
    return prop.name, f"{prop.kind}{expected}", clip(prop.rule, 100)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="mrk-table"><tr>{cells}</tr>{body}</table>'


# --- properties -----------------------------------------------------------------------------------


def property_repr(prop: Property) -> str:
    rule = f", rule {prop.rule!r}" if prop.rule else ""
    expected = ", expected violated" if prop.expected == "violated" else ""
    return short(f"<{type(prop).__name__} {prop.name} ({prop.kind}){rule}{expected}>")


def property_html(prop: Property, expression: str = "") -> str:
    rows = [("kind", str(prop.kind)), ("rule", prop.rule), ("doc", prop.doc)]
    if prop.expected == "violated":
        rows.append(("expected", "violated (a documented counterexample)"))
    if expression:
        rows.append(("expression", clip(expression, 600)))
    return TABLE_CSS + f"<p><b>{escape(prop.name)}</b></p>" + _table(("", ""), rows)


# --- states ---------------------------------------------------------------------------------------

Mark = Callable[[int], str]  # slot -> extra CSS classes of its cell ("changed", "witness")


def state_tables(
    schema: Schema,
    state: Sequence[int],
    before: Sequence[int] | None = None,
    mark: Mark | None = None,
    table_class: str = "mrk-table",
    row_class: Callable[[list[int]], str] | None = None,
) -> str:
    """A state as tables: variables with the same index universes share one (rows are index
    tuples, columns variables), scalars another. A cell whose value differs from ``before`` is
    marked ``changed`` with the old value in its tooltip; ``mark`` adds classes of its own, and
    ``row_class`` gives a row (from its slots) a class, such as one a style sheet hides."""
    groups: dict[tuple[str, ...], list[Variable]] = {}
    for var in schema.variables:
        groups.setdefault(tuple(u.name for u in var.over), []).append(var)
    parts = []
    for group in groups.values():
        parts.append(_group_table(group, state, before, mark, table_class, row_class))
    return "".join(parts)


def _group_table(group, state, before, mark, table_class, row_class) -> str:
    def row(slots: list[int], cells: str) -> str:
        cls = row_class(slots) if row_class is not None else ""
        return f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>"

    if not group[0].over:
        body = [
            row(
                [v.first_slot],
                f"<th>{escape(v.name)}</th>{cell(v, v.first_slot, state, before, mark)}",
            )
            for v in group
        ]
        head = "<tr><th>variable</th><th>value</th></tr>"
        kind = f"{table_class} scalars"
    else:
        head = "".join(f"<th>{escape(u.name)}</th>" for u in group[0].over)
        head = "<tr>" + head + "".join(f"<th>{escape(v.name)}</th>" for v in group) + "</tr>"
        body = []
        for index in group[0].indices():
            slots = [v.slot(index) for v in group]
            cells = "".join(f"<th>{escape(e)}</th>" for e in index)
            cells += "".join(
                cell(v, s, state, before, mark) for v, s in zip(group, slots, strict=True)
            )
            body.append(row(slots, cells))
        kind = table_class
    return f'<table class="{kind}">{head}{"".join(body)}</table>'


def cell(var: Variable, slot: int, state: Sequence[int], before, mark: Mark | None) -> str:
    value = escape(var.domain.show(state[slot]))
    classes = [mark(slot)] if mark is not None and mark(slot) else []
    title = ""
    if before is not None and before[slot] != state[slot]:
        classes.insert(0, "changed")
        title = f' title="was {escape(var.domain.show(before[slot]))}"'
    if not classes:
        return f"<td>{value}</td>"
    return f'<td class="{" ".join(classes)}"{title} data-slot="{slot}">{value}</td>'


def state_repr(schema: Schema, state: Sequence[int]) -> str:
    """``State(key_state[k1,us-east-1]=Enabled, role[k1,us-east-1]=PRIMARY, ...)``."""
    items = [
        f"{var[idx].label}={var.domain.show(state[slot])}" for var, idx, slot in schema.slots()
    ]
    return short("State(" + ", ".join(items) + ")")
