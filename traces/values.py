"""ITF values: the JSON encoding of the Apalache/Quint Informal Trace Format, both ways.

The format (https://apalache-mc.org/docs/adr/015adr-trace.html) maps TLA+ values to JSON:

=====================  ======================================  =====================
TLA+ / Quint value     ITF JSON                                Python (this module)
=====================  ======================================  =====================
Boolean                ``true`` / ``false``                    ``bool``
integer                ``{"#bigint": "-12"}`` (or a number)    ``int``
string                 ``"abc"``                               ``str``
sequence               ``[v, ...]``                            ``list``
tuple                  ``{"#tup": [v, ...]}``                  ``tuple``
set                    ``{"#set": [v, ...]}``                  ``frozenset``
function / map         ``{"#map": [[k, v], ...]}``             :class:`ItfMap`
record                 ``{"field": v, ...}``                   ``dict`` (str keys)
unserializable         ``{"#unserializable": "text"}``         :class:`Unserializable`
=====================  ======================================  =====================

Integers are always written as ``#bigint`` (JSON numbers lose precision past 2**53), but plain
JSON integers are accepted when reading, as the format allows. Sets and record fields are
written in a canonical order so that equal values always give equal bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ItfValue = Any  # bool | int | str | list | tuple | frozenset | ItfMap | dict | Unserializable


class ItfValueError(ValueError):
    """A JSON value that is not an ITF value; the message says where (a JSON path) and why."""


@dataclass(frozen=True)
class ItfMap:
    """A finite function, kept as ordered (key, value) pairs; equality ignores the order."""

    items: tuple[tuple[ItfValue, ItfValue], ...]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItfMap):
            return NotImplemented
        return len(self.items) == len(other.items) and _as_lookup(self) == _as_lookup(other)

    def __hash__(self) -> int:
        return hash(frozenset((_canonical(k), _canonical(v)) for k, v in self.items))

    def to_dict(self) -> dict[Any, ItfValue]:
        """The map as a dict (keys must be hashable: no records or sequences)."""
        return dict(self.items)


@dataclass(frozen=True)
class Unserializable:
    """A value the producer could not serialize, kept as its text."""

    text: str


def _as_lookup(m: ItfMap) -> dict[str, str]:
    return {_canonical(k): _canonical(v) for k, v in m.items}


def _canonical(value: ItfValue) -> str:
    """A canonical text of a value: equal values give equal texts (used for ordering sets)."""
    return json.dumps(encode(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- Python -> JSON -------------------------------------------------------------------------------


def encode(value: ItfValue) -> Any:
    """The ITF JSON of a Python value (see the table in the module docstring)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"#tup": [encode(v) for v in value]}
    if isinstance(value, frozenset | set):
        return {"#set": sorted((encode(v) for v in value), key=_json_key)}
    if isinstance(value, ItfMap):
        return {"#map": [[encode(k), encode(v)] for k, v in value.items]}
    if isinstance(value, Unserializable):
        return {"#unserializable": value.text}
    if isinstance(value, dict):
        return _encode_record(value)
    raise ItfValueError(f"cannot encode {type(value).__name__} {value!r} as an ITF value")


def _encode_record(record: dict) -> dict[str, Any]:
    out = {}
    for key in sorted(record):
        if not isinstance(key, str) or key.startswith("#"):
            raise ItfValueError(f"record field {key!r} must be a string not starting with '#'")
        out[key] = encode(record[key])
    return out


def _json_key(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- JSON -> Python -------------------------------------------------------------------------------

_TAGS = ("#bigint", "#tup", "#set", "#map", "#unserializable")


def decode(data: Any, where: str = "$") -> ItfValue:
    """The Python value of ITF JSON ``data``; ``where`` is the JSON path used in errors."""
    if isinstance(data, bool | str):
        return data
    if isinstance(data, int):
        return data
    if isinstance(data, float):
        if data.is_integer():
            return int(data)
        raise ItfValueError(f"{where}: {data} is not an integer (ITF has no fractions)")
    if isinstance(data, list):
        return [decode(v, f"{where}[{i}]") for i, v in enumerate(data)]
    if isinstance(data, dict):
        return _decode_object(data, where)
    raise ItfValueError(f"{where}: null is not an ITF value")


def _decode_object(data: dict, where: str) -> ItfValue:
    tags = [k for k in data if k in _TAGS]
    if not tags:
        return {k: decode(v, f"{where}.{k}") for k, v in data.items() if k != "#meta"}
    if len(data) != 1:
        raise ItfValueError(f"{where}: {tags[0]} must be the only key, found {sorted(data)}")
    tag, body = tags[0], data[tags[0]]
    if tag == "#bigint":
        return _decode_bigint(body, where)
    if tag == "#unserializable":
        if not isinstance(body, str):
            raise ItfValueError(f"{where}: #unserializable takes a string")
        return Unserializable(body)
    if not isinstance(body, list):
        raise ItfValueError(f"{where}: {tag} takes a JSON array, not {type(body).__name__}")
    items = [decode(v, f"{where}.{tag}[{i}]") if tag != "#map" else v for i, v in enumerate(body)]
    if tag == "#tup":
        return tuple(items)
    if tag == "#set":
        return _decode_set(items, where)
    return ItfMap(tuple(_decode_pair(pair, f"{where}.#map[{i}]") for i, pair in enumerate(body)))


def _decode_bigint(body: Any, where: str) -> int:
    if not isinstance(body, str):
        raise ItfValueError(f"{where}: #bigint takes a string of digits, not {body!r}")
    text = body[1:] if body.startswith("-") else body
    if not text.isdigit() or not text.isascii():
        raise ItfValueError(f"{where}: #bigint {body!r} is not a decimal integer")
    return int(body)


def _decode_set(items: list, where: str) -> frozenset:
    try:
        return frozenset(items)
    except TypeError:
        raise ItfValueError(f"{where}: set elements must be hashable values") from None


def _decode_pair(pair: Any, where: str) -> tuple[ItfValue, ItfValue]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ItfValueError(f"{where}: a #map entry must be a [key, value] pair")
    return decode(pair[0], f"{where}[0]"), decode(pair[1], f"{where}[1]")


def show(value: ItfValue) -> str:
    """A short TLA+-like text of a value, for error messages."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _canonical(value) if not isinstance(value, int) else str(value)
