"""ITF JSON (the Apalache/Quint Informal Trace Format): write traces deterministically.

Values: booleans as JSON booleans, enum values as strings, integers as ``{"#bigint": "n"}``,
a variable indexed by one universe as ``{"#map": [[key, value], ...]}`` and by several as a map
whose keys are ``{"#tup": [...]}``. Each state's ``#meta`` carries the action label and parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mrkcheck.result import Trace
from mrkcheck.spec import BOOL, Variable

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def _value(var: Variable, raw: int) -> Any:
    if var.domain.sort == BOOL:
        return bool(raw)
    if var.domain.values == tuple(str(i) for i in range(var.domain.lo, var.domain.hi + 1)):
        return {"#bigint": str(raw)}
    return var.domain.show(raw)


def _key(index: tuple[str, ...]) -> Any:
    return index[0] if len(index) == 1 else {"#tup": list(index)}


def to_itf(trace: Trace) -> dict[str, Any]:
    """The ITF document of ``trace`` as plain JSON data."""
    variables = trace.schema.variables
    states = []
    for position, step in enumerate(trace.steps):
        meta: dict[str, Any] = {"index": position, "action": step.action or "Init"}
        if step.params:
            meta["params"] = dict(step.params)
        state: dict[str, Any] = {"#meta": meta}
        for var in variables:
            if not var.over:
                state[var.name] = _value(var, step.state[var.first_slot])
            else:
                state[var.name] = {
                    "#map": [[_key(i), _value(var, step.state[var.slot(i)])] for i in var.indices()]
                }
        states.append(state)
    doc: dict[str, Any] = {
        "#meta": {
            "format": "ITF",
            "format-description": FORMAT_DESCRIPTION,
            "source": trace.model,
            "options": {k: v for k, v in sorted(trace.options.items())},
            "property": trace.property,
            "status": "violated" if trace.property else "trace",
        },
        "vars": [v.name for v in variables],
        "states": states,
    }
    if trace.loop is not None:
        doc["loop"] = trace.loop
    return doc


def write_itf(trace: Trace, path: str | Path) -> None:
    """Write ``trace``; the same trace always gives the same bytes."""
    text = json.dumps(to_itf(trace), indent=2, sort_keys=False, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
