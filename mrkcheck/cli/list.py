"""``mrkcheck list models|options|properties|mutants|actions [MODEL]``."""

from __future__ import annotations

import argparse
import inspect
import shutil
import textwrap
from typing import Any

from mrkcheck.errors import UsageError
from mrkcheck.registry import DEFAULT_MODEL, MODELS, factory_options, load_factory, load_mutants


def add_parser(sub: Any) -> None:
    lister = sub.add_parser("list", help="list models, options, properties, mutants or actions")
    lister.add_argument("what", choices=["models", "options", "properties", "mutants", "actions"])
    lister.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    lister.set_defaults(run=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    what = args.what
    if what == "models":
        for name, parts in MODELS.items():
            print(f"{name:10} {parts.build}")
        return 0
    factory = load_factory(args.model)
    if what == "options":
        _list_options(factory)
        return 0
    if what == "properties":
        model = factory()
        for p in model.properties:
            extra = "  (expected: violated)" if p.expected == "violated" else ""
            print(f"{p.name:40} {p.kind:10} {p.rule}{extra}")
        return 0
    if what == "mutants":
        for m in load_mutants(args.model).values():
            print(f"{m.name:40} breaks {m.breaks}: {m.description}")
        return 0
    if what == "actions":
        model = factory()
        for name in model.action_names:
            inst = next(i for i in model.instances if i.action == name)
            kind = "environment" if inst.environment else "api"
            print(f"{name:32} {kind:12} {(inst.doc.splitlines() or [''])[0]}")
        return 0
    raise UsageError(f"unknown list {what!r}")


def _list_options(factory) -> None:
    """One option a paragraph: name, default, and what it decides in plain words, wrapped to the
    terminal; a rule id in parentheses (Q1, §3.2) is a section of the model's rules document."""
    module = inspect.getmodule(factory)
    describe = getattr(module, "OPTION_DOCS", {})
    width = max(60, min(shutil.get_terminal_size().columns, 100))
    rules = getattr(module, "RULES_DOCUMENT", None)
    if rules:
        print(f"Ids in parentheses (Q1, ...) are the open questions of {rules}, section 8.\n")
    for name, param in factory_options(factory).items():
        print(f"{name} (default {_shown(param.default)})")
        for line in textwrap.wrap(describe.get(name, ""), width - 4):
            print(f"    {line}")


def _shown(value: object) -> str:
    """A default as a user types it after ``-D``: ``true``, ``3``, ``AWS_KMS,EXTERNAL``."""
    return str(value).lower() if isinstance(value, bool) else str(value)
