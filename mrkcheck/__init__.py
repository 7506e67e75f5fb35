"""mrkcheck: a model checker for AWS KMS multi-Region keys.

The public API, for notebooks, scripts and users' own models (as stateright's ``lib.rs``)::

    from mrkcheck import Checker, ModelBuilder, forall
    result = Checker(model).symmetry().limits(max_states=100_000).run()

Everything else (``mrkcheck.check.explicit``, ``mrkcheck.lang.model``...) is internal and may move.
The names are loaded on first use: ``python -m mrkcheck`` runs this file before its signal
handlers are installed, so it must import nothing. Using the API also loads
:mod:`mrkcheck.traces`, which gives traces and results their notebook display.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it
_PUBLIC = {
    # the modelling language
    **dict.fromkeys(
        (
            "Model",
            "ModelBuilder",
            "ModelError",
            "Transition",
            "Guard",
            "Universe",
            "Property",
            "Invariant",
            "Reachability",
            "ActionProperty",
            "LeadsTo",
            "Verdict",
        ),
        "mrkcheck.lang.model",
    ),
    **dict.fromkeys(
        ("forall", "exists", "count", "implies", "and_", "or_", "not_", "ite", "evaluate"),
        "mrkcheck.lang.expr",
    ),
    "Mutant": "mrkcheck.lang.mutation",
    "Scenario": "mrkcheck.lang.scenario",
    # checking
    "Checker": "mrkcheck.check.checker",
    **dict.fromkeys(
        ("CheckResult", "PropertyResult", "Trace", "HOLDS", "VIOLATED", "UNKNOWN"),
        "mrkcheck.check.result",
    ),
    **dict.fromkeys(("reachable", "successors"), "mrkcheck.check.explicit"),
    **dict.fromkeys(("bmc", "inductive", "k_induction"), "mrkcheck.check.symbolic"),
    **dict.fromkeys(("simulate", "SimulationResult"), "mrkcheck.check.simulate"),
    **dict.fromkeys(("trace_table", "summary_text"), "mrkcheck.check.report"),
    # models by name
    **dict.fromkeys(("load_factory", "load_mutants"), "mrkcheck.registry"),
    # the KMS model's vocabulary, for users' properties and workflows (docs/workflows.md)
    "Kms": "mrkcheck.model.kms",
    **dict.fromkeys(("KeyState", "Role"), "mrkcheck.model.rules"),
    **dict.fromkeys(
        ("workflow", "Workflow", "View", "NEXT", "END", "RETRY", "key_with_replicas"),
        "mrkcheck.model.workflow",
    ),
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Load a public name when first used (PEP 562); see the module doc for why."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mrkcheck' has no attribute {name!r}")
    importlib.import_module("mrkcheck.traces")  # the notebook display of results
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
