"""ITF JSON (the Apalache/Quint Informal Trace Format): write and read traces, byte for byte.

A variable is written by the shape of its domain: booleans as JSON booleans, integer ranges as
``{"#bigint": "n"}``, enum values as strings. A variable indexed by one universe is a
``{"#map": [[element, value], ...]}`` in universe order; one indexed by several universes is a map
whose keys are ``{"#tup": [...]}``. Each state's ``#meta`` carries its index, the action that led
to it (``"Init"`` for the first) and the action's parameters; the header ``#meta`` says which
model and options produced the trace, and which property it violates.

Reading needs the model (its schema gives domains and universes): :func:`read_header` tells
which model to build (``source``: a registered name, ``module:function`` or a model file, with
``source-file``, its absolute path, to reopen it from another folder), :func:`from_itf` checks
every value against it. A file of another tool without its model is read by
:mod:`mrkcheck.traces.foreign`. Anything wrong is a
:class:`TraceFormatError` whose message is one line naming the state and variable at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrkcheck.check.result import CheckResult, Step, Trace
from mrkcheck.errors import OneLineError
from mrkcheck.lang.model import BOOL, Domain, Schema, Variable
from mrkcheck.registry import is_file_spec
from mrkcheck.traces.values import ItfMap, ItfValueError, decode, encode, show

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
INIT_ACTION = "Init"
CREATED_BY = "mrkcheck"


class TraceFormatError(OneLineError, ValueError):
    """A file that is not a trace of the model; the message is one line (exit code 150)."""


# --- values of one variable -----------------------------------------------------------------------


def is_numeric(domain: Domain) -> bool:
    """Whether a domain is an integer range (written as #bigint) rather than named values."""
    return domain.sort != BOOL and domain.values == tuple(
        str(i) for i in range(domain.lo, domain.hi + 1)
    )


def slot_value(var: Variable, raw: int) -> bool | int | str:
    """The ITF-level Python value of a stored slot value."""
    if var.domain.sort == BOOL:
        return bool(raw)
    if is_numeric(var.domain):
        return raw
    return var.domain.show(raw)


def _key(index: tuple[str, ...]) -> str | tuple[str, ...]:
    return index[0] if len(index) == 1 else index


def variable_value(var: Variable, state: tuple[int, ...]) -> Any:
    """The ITF-level Python value of a whole variable (a scalar, or an :class:`ItfMap`)."""
    if not var.over:
        return slot_value(var, state[var.first_slot])
    return ItfMap(tuple((_key(i), slot_value(var, state[var.slot(i)])) for i in var.indices()))


# --- writing --------------------------------------------------------------------------------------


def _header(trace: Trace) -> dict[str, Any]:
    """``source`` is what builds the model again (a registered name, ``module:function`` or
    ``path/to/model.py:function``); ``model`` its name, when that differs."""
    header: dict[str, Any] = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "source": trace.source or trace.model,
    }
    if trace.source and trace.source != trace.model:
        header["model"] = trace.model
    module, _, function = trace.source.rpartition(":")
    if module and is_file_spec(module) and Path(module).is_file():  # reopened from elsewhere
        header["source-file"] = f"{Path(module).resolve()}:{function}"
    header.update(
        options={k: _plain(v) for k, v in sorted(trace.options.items())},
        property=trace.property_name,
        status="violated" if trace.property_name else "trace",
        description=f"Created by {CREATED_BY}",
    )
    if trace.cti:
        header["start"] = "CTI"  # the first state is not initial: replay does not ask it to be
    return header


def _plain(value: Any) -> Any:
    """Model options as plain JSON (tuples become lists)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _state_meta(position: int, step: Step) -> dict[str, Any]:
    meta: dict[str, Any] = {"index": position, "action": step.action or INIT_ACTION}
    if step.params:
        meta["params"] = dict(step.params)
    return meta


def to_itf(trace: Trace) -> dict[str, Any]:
    """The ITF document of ``trace`` as plain JSON data."""
    variables = trace.schema.variables
    states = []
    for position, step in enumerate(trace.steps):
        state: dict[str, Any] = {"#meta": _state_meta(position, step)}
        for var in variables:
            state[var.name] = encode(variable_value(var, step.state))
        states.append(state)
    doc: dict[str, Any] = {
        "#meta": _header(trace),
        "vars": [v.name for v in variables],
        "states": states,
    }
    if trace.loop is not None:
        doc["loop"] = trace.loop
    return doc


def dumps(trace: Trace) -> str:
    """The ITF text of ``trace``: deterministic, so the same trace always gives the same bytes."""
    return pretty_json(to_itf(trace)) + "\n"


def pretty_json(data: Any, indent: str = "", width: int = 100) -> str:
    """JSON indented like ``json.dumps(indent=2)`` but with every value that fits on one line
    kept on one line, so that a #map of a few Regions reads as one line, not fifteen."""
    flat = json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
    if len(indent) + len(flat) <= width or not isinstance(data, dict | list) or not data:
        return flat
    inner = indent + "  "
    if isinstance(data, list):
        items = [inner + pretty_json(v, inner, width) for v in data]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    items = [
        f"{inner}{json.dumps(k, ensure_ascii=False)}: {pretty_json(v, inner, width).lstrip()}"
        for k, v in data.items()
    ]
    return "{\n" + ",\n".join(items) + "\n" + indent + "}"


def write_itf(trace: Trace, path: str | Path) -> None:
    """Write ``trace`` to ``path`` (UTF-8, ``\\n`` line ends)."""
    Path(path).write_bytes(dumps(trace).encode("utf-8"))


# --- reading: the header --------------------------------------------------------------------------


@dataclass
class Header:
    """What a file says about itself: enough to rebuild the model that reads it."""

    source: str
    options: dict[str, Any] = field(default_factory=dict)
    property_name: str | None = None  # the file's "#meta.property"
    status: str = "trace"
    model: str = ""  # the model's name, when the source is an import string
    cti: bool = False  # "start": "CTI": a counterexample to induction
    ours: bool = True  # written by mrkcheck (else by another tool: Apalache, Quint...)
    source_file: str = ""  # a model file's absolute path, for when ``source`` is relative

    def model_source(self) -> str:
        """The source to build the model from: ``source``, unless it is a model file's relative
        path that does not exist from here (the trace is opened from another folder)."""
        module = self.source.rpartition(":")[0]
        if self.source_file and is_file_spec(module) and not Path(module).is_file():
            return self.source_file
        return self.source


def load_json(text: str, name: str = "trace") -> dict[str, Any]:
    """Parse ``text`` and check it has the shape of an ITF trace (not yet against a model)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"{name}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list):
        raise TraceFormatError(
            f"{name}: not an ITF trace: expected a JSON object with a 'states' array"
        )
    if not isinstance(doc.get("vars"), list) or not all(isinstance(v, str) for v in doc["vars"]):
        raise TraceFormatError(f"{name}: not an ITF trace: 'vars' must be an array of names")
    if not doc["states"]:
        raise TraceFormatError(f"{name}: the trace has no states")
    return doc


def read_header(doc: dict[str, Any], name: str = "trace") -> Header:
    """The header ``#meta`` of a loaded document (source may be empty for foreign files)."""
    meta = doc.get("#meta", {})
    if not isinstance(meta, dict):
        raise TraceFormatError(f"{name}: header #meta must be an object")
    options = meta.get("options", {})
    if not isinstance(options, dict):
        raise TraceFormatError(f"{name}: header #meta.options must be an object")
    prop = meta.get("property")
    if prop is not None and not isinstance(prop, str):
        raise TraceFormatError(f"{name}: header #meta.property must be a name or null")
    source, model = meta.get("source", ""), meta.get("model", "")
    if not isinstance(source, str) or not isinstance(model, str):
        raise TraceFormatError(f"{name}: header #meta.source and #meta.model must be strings")
    ours = str(meta.get("description", "")).startswith(f"Created by {CREATED_BY}")
    status = str(meta.get("status", "trace"))
    cti, source_file = meta.get("start") == "CTI", str(meta.get("source-file", ""))
    return Header(source, dict(options), prop, status, model, cti, ours, source_file)


# --- reading: states against a schema -------------------------------------------------------------


def from_itf(doc: dict[str, Any], schema: Schema, name: str = "trace") -> Trace:
    """The :class:`Trace` of a loaded document, every value checked against ``schema``."""
    header = read_header(doc, name)
    expected = [v.name for v in schema.variables]
    if sorted(doc["vars"]) != sorted(expected):
        missing = sorted(set(expected) - set(doc["vars"]))
        extra = sorted(set(doc["vars"]) - set(expected))
        raise TraceFormatError(
            f"{name}: 'vars' does not match the model: missing {missing or 'none'}, "
            f"unknown {extra or 'none'}"
        )
    steps = [_read_state(raw, i, schema, name) for i, raw in enumerate(doc["states"])]
    loop = read_loop(doc, len(steps), name)
    options = {k: _tuple(v) for k, v in header.options.items()}
    return Trace(
        schema,
        steps,
        loop,
        header.model or header.source,
        header.property_name,
        options,
        header.source,
        header.cti,
    )


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def read_loop(doc: dict[str, Any], length: int, name: str) -> int | None:
    loop = doc.get("loop")
    if loop is None:
        return None
    if isinstance(loop, bool) or not isinstance(loop, int) or not 0 <= loop < length:
        raise TraceFormatError(f"{name}: 'loop' must be a state index in 0..{length - 1}")
    return loop


def _read_state(raw: Any, position: int, schema: Schema, name: str) -> Step:
    where = f"{name}: state {position}"
    if not isinstance(raw, dict):
        raise TraceFormatError(f"{where}: expected a JSON object, found {type(raw).__name__}")
    action, params = read_meta(raw.get("#meta", {}), where)
    state = [0] * schema.width
    for var in schema.variables:
        if var.name not in raw:
            raise TraceFormatError(f"{where}: variable {var.name} is missing")
        try:
            value = decode(raw[var.name], var.name)
        except ItfValueError as exc:
            raise TraceFormatError(f"{where}, variable {exc}") from None
        _store(var, value, state, f"{where}, variable {var.name}")
    unknown = sorted(k for k in raw if k != "#meta" and k not in {v.name for v in schema.variables})
    if unknown:
        raise TraceFormatError(f"{where}: unknown variable {unknown[0]}")
    return Step(action, params, tuple(state))


def read_meta(meta: Any, where: str) -> tuple[str | None, tuple]:
    """The action and parameters of a state; a foreign file without them reads as unlabelled."""
    if not isinstance(meta, dict):
        raise TraceFormatError(f"{where}: #meta must be an object")
    action = meta.get("action")
    if action is not None and not isinstance(action, str):
        raise TraceFormatError(f"{where}: #meta.action must be a string")
    if action == INIT_ACTION:
        action = None
    params = meta.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise TraceFormatError(f"{where}: #meta.params must map names to strings")
    return action, tuple(params.items())


def _store(var: Variable, value: Any, state: list[int], where: str) -> None:
    if not var.over:
        state[var.first_slot] = _slot(var, value, where)
        return
    if not isinstance(value, ItfMap):
        raise TraceFormatError(
            f"{where}: expected a #map over {' x '.join(u.name for u in var.over)}, "
            f"found {show(value)}"
        )
    wanted = {_key(i): i for i in var.indices()}
    seen: set = set()
    for key, item in value.items:
        if not _hashable(key) or key not in wanted:
            raise TraceFormatError(f"{where}: key {show(key)} is not {_index_names(var)}")
        if key in seen:
            raise TraceFormatError(f"{where}: key {show(key)} appears twice")
        seen.add(key)
        index = wanted[key]
        state[var.slot(index)] = _slot(var, item, f"{where}[{','.join(index)}]")
    missing = [k for k in wanted if k not in seen]
    if missing:
        raise TraceFormatError(f"{where}: no value for key {show(missing[0])}")


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _index_names(var: Variable) -> str:
    if len(var.over) == 1:
        return f"an element of {var.over[0].name} ({', '.join(var.over[0].elements)})"
    return "a #tup of " + " x ".join(u.name for u in var.over)


def _slot(var: Variable, value: Any, where: str) -> int:
    """The stored integer of one ITF value, or an error saying what was expected."""
    domain = var.domain
    if domain.sort == BOOL:
        if not isinstance(value, bool):
            raise TraceFormatError(f"{where}: expected a Boolean, found {show(value)}")
        return int(value)
    if is_numeric(domain):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TraceFormatError(f"{where}: expected an integer, found {show(value)}")
        if not domain.contains(value):
            raise TraceFormatError(f"{where}: {value} is outside {domain.lo}..{domain.hi}")
        return value
    if not isinstance(value, str) or value not in domain.values:
        raise TraceFormatError(
            f"{where}: expected one of {', '.join(domain.values)} ({domain.name}), "
            f"found {show(value)}"
        )
    return domain.parse(value)


def read_itf(path: str | Path, schema: Schema) -> Trace:
    """Read a trace file against ``schema`` (the model's); errors are :class:`TraceFormatError`."""
    return from_itf(load_json(read_text(path), str(path)), schema, str(path))


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFormatError(f"{path}: cannot read: {exc}") from None


def write_ctis(
    model: str, ctis: dict[str, Trace], out: str, mutant: str | None = None
) -> list[str]:
    """Counterexamples to induction (by property) as ``<model>-<property>-cti.itf.json``; their
    header says ``"start": "CTI"``, so the viewers label the first state as such."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, trace in ctis.items():
        if mutant:  # so that `trace check` replays it against the mutant
            trace.options["mutant"] = mutant
        path = folder / f"{model}-{name}-cti.itf.json"
        write_itf(trace, path)
        written.append(str(path))
    return written


def write_traces(result: CheckResult, out: str) -> list[str]:
    """Every counterexample of a result as ``<model>-<property>.itf.json`` in folder ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    traces = [(r.name, r.trace) for r in result.properties if r.trace is not None]
    if result.deadlock is not None:
        traces.append(("deadlock", result.deadlock))
    for name, trace in traces:
        if "mutant" in result.options:  # so that `trace check` replays it against the mutant
            trace.options["mutant"] = result.options["mutant"]
        path = folder / f"{result.model}-{name}.itf.json"
        write_itf(trace, path)
        written.append(str(path))
    return written
