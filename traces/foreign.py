"""Any ITF file, without its model: a generic view of a trace written by Apalache, Quint or by hand.

The viewers draw a :class:`~mrkcheck.check.result.Trace`, whose states are vectors of small
integers laid out by a :class:`~mrkcheck.lang.model.Schema`. A file whose model is unknown gets a
schema made from the file itself: each variable becomes one row, or one row per key when its
values are maps or records (so a change to one key is one changed cell, not a whole new map);
each row's domain is the values it takes in the file, as TLA+-like text (``{1, 2}``,
``<<a, 1>>``, ``[x |-> 1]``, ``(a :> 1 @@ b :> 2)``, ``Some(40)`` for a Quint variant). Then the
text table, the HTML page and the picture work unchanged: variables as rows, steps as columns,
changes marked. Nothing can be replayed (there is no model to replay against).

Quint writes the action it took in a variable ``mbt::actionTaken``; it names the steps here. A key
absent from a map in some state shows as ``-``.
"""

from __future__ import annotations

from typing import Any

from mrkcheck.check.result import Step, Trace
from mrkcheck.lang.model import Domain, Schema, Universe, Variable
from mrkcheck.traces.itf import Header, TraceFormatError, read_header, read_loop, read_meta
from mrkcheck.traces.values import ItfMap, ItfValueError, Unserializable, decode

ACTION_TAKEN = "mbt::actionTaken"  # Quint's record of the action taken
ABSENT = "-"  # a map key or record field missing in this state


def tla(value: Any) -> str:
    """A TLA+-like text of an ITF value (see the module docstring)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return "<<" + ", ".join(tla(v) for v in value) + ">>"
    if isinstance(value, list):
        return "<<" + ", ".join(tla(v) for v in value) + ">>"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(tla(v) for v in value)) + "}"
    if isinstance(value, ItfMap):
        pairs = " @@ ".join(f"{tla(k)} :> {tla(v)}" for k, v in value.items)
        return f"({pairs})" if pairs else "<<>>"
    if isinstance(value, Unserializable):
        return f"<{value.text}>"
    if isinstance(value, dict):
        if set(value) == {"tag", "value"}:  # a Quint variant
            inner = value["value"]
            return str(value["tag"]) + ("" if inner == {} else f"({tla(inner)})")
        return "[" + ", ".join(f"{k} |-> {tla(v)}" for k, v in value.items()) + "]"
    return repr(value)


def _entries(value: Any) -> dict[str, str] | None:
    """The rows a variable's value splits into: a map by key, a record by field (a variant is
    one value, not a record); None for anything else."""
    if isinstance(value, ItfMap):
        return {tla(k): tla(v) for k, v in value.items}
    if isinstance(value, dict) and set(value) != {"tag", "value"}:
        return {k: tla(v) for k, v in value.items()}
    return None


def generic_trace(doc: dict[str, Any], name: str = "trace") -> Trace:
    """The trace of a loaded ITF document (see :func:`mrkcheck.traces.itf.load_json`) with a
    schema made from its own values."""
    header = read_header(doc, name)
    shown = [v for v in doc["vars"] if v != ACTION_TAKEN]
    states = [_decoded(raw, i, doc["vars"], name) for i, raw in enumerate(doc["states"])]
    rows = _rows(shown, states)
    schema = _schema(rows)
    steps = []
    for i, (raw, values) in enumerate(zip(doc["states"], states, strict=True)):
        action, params = read_meta(raw.get("#meta", {}), f"{name}: state {i}")
        taken = values.get(ACTION_TAKEN)
        if isinstance(taken, str) and taken and i > 0:
            action = taken
        if i == 0:
            action, params = None, ()
        cells = [0] * schema.width
        for var, key, _ in rows:
            variable = schema.variable(var)
            slot = variable.slot(() if key is None else (key,))
            cells[slot] = variable.domain.parse(_cell(values, var, key))
        steps.append(Step(action, params, tuple(cells)))
    return Trace(
        schema,
        steps,
        read_loop(doc, len(steps), name),
        _title(header),
        header.property_name,
        {},
        "",
    )


def _title(header: Header) -> str:
    return header.source or "ITF trace (model unknown)"


def _decoded(raw: Any, position: int, names: list[str], name: str) -> dict[str, Any]:
    where = f"{name}: state {position}"
    if not isinstance(raw, dict):
        raise TraceFormatError(f"{where}: expected a JSON object, found {type(raw).__name__}")
    values = {}
    for var in names:
        if var not in raw:
            raise TraceFormatError(f"{where}: variable {var} is missing")
        try:
            values[var] = decode(raw[var], var)
        except ItfValueError as exc:
            raise TraceFormatError(f"{where}, variable {exc}") from None
    return values


Row = tuple[str, str | None, list[str]]  # variable, key (None: the whole value), value texts


def _rows(names: list[str], states: list[dict[str, Any]]) -> list[Row]:
    """One row per variable, or per key of a variable whose every value is a map or record."""
    rows: list[Row] = []
    for var in names:
        split = [_entries(s[var]) for s in states]
        keys = list(dict.fromkeys(k for e in split if e is not None for k in e))
        if keys and all(e is not None for e in split):
            rows += [(var, key, []) for key in keys]
        else:  # not always a map or record, or always an empty one: one row
            rows.append((var, None, []))
    for var, key, domain in rows:
        for state in states:
            text = _cell(state, var, key)
            if text not in domain:
                domain.append(text)
    return rows


def _cell(state: dict[str, Any], var: str, key: str | None) -> str:
    if key is None:
        return tla(state[var])
    entries = _entries(state[var]) or {}
    return entries.get(key, ABSENT)


def _schema(rows: list[Row]) -> Schema:
    """A variable per row: keyed rows of one variable share a universe of their keys."""
    variables: list[Variable] = []
    slot = 0
    for var, key, values in rows:
        if key is not None and variables and variables[-1].name == var:
            continue
        if key is None:
            variables.append(Variable(var, _domain(var, values), (), slot))
            slot += 1
            continue
        keyed = [r for r in rows if r[0] == var]
        texts = list(dict.fromkeys(v for r in keyed for v in r[2]))
        universe = Universe(f"keys of {var}", tuple(str(r[1]) for r in keyed))
        variables.append(Variable(var, _domain(var, texts), (universe,), slot))
        slot += len(keyed)
    return Schema(tuple(variables))


MAX_RANGE = 10_000  # integer rows spanning more are kept as names (no arithmetic in --eval)


def _domain(var: str, texts: list[str]) -> Domain:
    """Integers as a range, so that they are stored as themselves and ``--eval`` can add and
    compare them, followed by any other values (``-``, absent); values without numbers as the
    names seen, in order of appearance."""
    name = f"values of {var}"
    numbers = [int(t) for t in texts if _is_int(t)]
    if not numbers or max(numbers) - min(numbers) > MAX_RANGE:
        return Domain(name, tuple(texts))
    lo, hi = min(numbers), max(numbers)
    others = tuple(t for t in texts if not _is_int(t))
    return Domain(name, tuple(str(i) for i in range(lo, hi + 1)) + others, lo)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit() and text.isascii()
