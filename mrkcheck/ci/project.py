"""The project file: which instances, properties and mutants ``mrkcheck check`` runs in CI.

A project is ``mrkcheck.toml`` (keys at the top level) or the ``[tool.mrkcheck]`` table of a
``pyproject.toml``; ``mrkcheck.toml`` wins when both exist, as ``ruff.toml`` does over
``pyproject.toml``. Example::

    model = "kms"                       # default model of every entry (a name or module:function)

    [instances.default]                 # regions=3 and every other option at its default

    [instances.five-regions]
    regions = 5                         # any model option, typed as in TOML
    symmetry = true                     # (then 'eventually' properties are skipped: liveness = true
                                        # checks them on the unreduced graph)

    [instances.two-key-sets]
    key_sets = 2
    symmetry = true
    slow = true                         # skipped unless ``mrkcheck check --all``

    mutants = ["replicate_overwrites"]  # or [mutants.NAME] tables with the instance keys + breaks

    [workflows.failover]                # a runbook checked against the model (docs/workflows.md)
    workflow = "examples/workflows/failover.py"
    others = "examples/workflows/encrypt_app.py"   # none (default), any, or a workflow

An entry with ``properties_from = "myprops.py"`` also checks the properties that file's
``properties(k)`` returns (the ``workflow`` model, which is the KMS model plus these).
Paths are relative to the project file's folder.

An instance entry asserts that its properties hold (documented counterexamples, the properties with
``expected = "violated"``, may be violated). A mutant entry asserts that the mutant is *caught*: the
property it ``breaks`` is violated; a mutant that escapes fails the run. Every key and value is
checked before anything runs, so a typo costs one line on stderr (exit 150), not a CI hour.
"""

from __future__ import annotations

import difflib
import inspect
import re
import tomllib
from argparse import ArgumentTypeError
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mrkcheck.errors import UsageError, echo, positive_int, positive_seconds, unknown_name
from mrkcheck.lang.model import Model, ModelError
from mrkcheck.registry import (
    DEFAULT_MODEL,
    factory_options,
    find_mutant,
    load_factory,
    model_builder,
    option_value,
)

PROJECT_FILE = "mrkcheck.toml"
PYPROJECT_FILE = "pyproject.toml"

HOLDS, CAUGHT = "holds", "caught"

# Keys an entry may carry besides model options; the values' types are checked against these.
ENTRY_KEYS: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "description": str,
    "symmetry": bool,
    "deadlock": bool,
    "liveness": bool,
    "slow": bool,
    "properties": list,
    "mutant": str,
    "max_states": int,
    "max_depth": int,
    "max_seconds": (int, float),
}
MUTANT_KEYS: dict[str, type | tuple[type, ...]] = {**ENTRY_KEYS, "breaks": str}
del MUTANT_KEYS["mutant"]  # the table's name is the mutant
TOP_KEYS = ("model", "properties", "instances", "mutants", "workflows")
WORKFLOW_MODEL = "workflow"  # the KMS model with workflows and user properties (its options)
PATH_OPTIONS = ("workflow", "others", "properties_from")  # file paths, relative to the project


class ProjectError(UsageError):
    """A bad project file: one line naming the file and the key, exit code 150."""


@dataclass(frozen=True)
class Entry:
    """One thing to check: a model instance whose properties must hold, or a mutant to catch.

    ``expect`` is ``holds`` (every property not documented as violated must hold) or ``caught``
    (the property in ``properties`` must be violated: a mutant entry).
    """

    name: str
    model: str = DEFAULT_MODEL
    options: dict[str, Any] = field(default_factory=dict)
    symmetry: bool = False
    deadlock: bool = True
    liveness: bool | None = None  # None: check 'eventually' properties unless symmetry is on
    slow: bool = False
    properties: tuple[str, ...] = ()
    mutant: str | None = None
    expect: str = HOLDS
    description: str = ""
    max_states: int | None = None
    max_depth: int | None = None
    max_seconds: float | None = None
    line: int | None = None  # where the entry starts in the project file, for annotations

    @property
    def checks_liveness(self) -> bool:
        """Fairness is per concrete Region, so liveness needs the unreduced state graph: an entry
        with symmetry reduction (a large instance) skips it unless it asks for it."""
        return self.liveness if self.liveness is not None else not self.symmetry

    def build(self) -> Model:
        """The model this entry checks, restricted to its properties (if it names any)."""
        model = model_builder(self.model, self.mutant)(**self.options)
        return model.select(self.properties) if self.properties else model

    def describe(self) -> str:
        """A short readable line: ``kms regions=5 symmetry`` or ``kms mutant=x``."""
        parts = [self.model] + [f"{k}={v}" for k, v in self.options.items()]
        if self.mutant:
            parts.append(f"mutant={self.mutant}")
        if self.symmetry:
            parts.append("symmetry")
        return " ".join(parts)


@dataclass(frozen=True)
class Project:
    path: Path
    entries: tuple[Entry, ...]

    def select(self, names: Iterable[str] = (), include_slow: bool = False) -> list[Entry]:
        """The entries to run: the named ones (slow or not), else every entry not marked slow."""
        wanted = list(names)
        known = {e.name: e for e in self.entries}
        for name in wanted:
            if name not in known:
                raise ProjectError(f"{self.path.name}: {unknown_name('instance', name, known)}")
        if wanted:
            return [known[n] for n in wanted]
        return [e for e in self.entries if include_slow or not e.slow]


# --- finding and reading --------------------------------------------------------------------------


def find_project(folder: Path | str = ".") -> Path | None:
    """``mrkcheck.toml`` in ``folder``, else its ``pyproject.toml`` if it has ``[tool.mrkcheck]``."""
    folder = Path(folder)
    own = folder / PROJECT_FILE
    if own.is_file():
        return own
    py = folder / PYPROJECT_FILE
    if py.is_file() and "mrkcheck" in _read_toml(py).get("tool", {}):
        return py
    return None


def load_project(path: Path | str) -> Project:
    """Read and validate a project file; every entry's model is built once to check its values."""
    path = Path(path)
    data = _read_toml(path)
    if path.name == PYPROJECT_FILE:
        data = data.get("tool", {}).get("mrkcheck")
        if data is None:
            raise ProjectError(f"{path}: no [tool.mrkcheck] table")
    elif "tool" in data:
        raise ProjectError(
            f"{path.name}: unknown key 'tool' (mrkcheck.toml keeps its keys at the top)"
        )
    prefix = "tool.mrkcheck." if path.name == PYPROJECT_FILE else ""
    entries = parse_project(data, path.name, prefix)
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [_relative_paths(_with_line(e, lines, prefix), path.parent) for e in entries]
    for entry in entries:
        _validate_build(entry, path.name)
    return Project(path, tuple(entries))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path.name}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror}") from None


# --- parsing --------------------------------------------------------------------------------------


def parse_project(data: dict[str, Any], where: str, prefix: str = "") -> list[Entry]:
    """The entries of a project table (already parsed TOML), in file order."""
    _no_unknown(data, TOP_KEYS, where, prefix.rstrip("."))
    model = _typed(data, "model", str, where, prefix) or DEFAULT_MODEL
    properties = _names(data.get("properties", []), f"{prefix}properties", where)
    instances = data.get("instances", {})
    if not isinstance(instances, dict):
        raise ProjectError(f"{where}: {prefix}instances must be a table of [instances.NAME] tables")
    entries = [
        _instance(name, body, model, properties, where, f"{prefix}instances.{name}")
        for name, body in instances.items()
    ]
    entries += _mutant_entries(data.get("mutants", []), model, where, f"{prefix}mutants")
    entries += _workflow_entries(data.get("workflows", {}), where, f"{prefix}workflows")
    if not entries:
        raise ProjectError(f"{where}: names no instances and no mutants")
    return entries


def _instance(
    name: str, body: Any, model: str, properties: tuple[str, ...], where: str, key: str
) -> Entry:
    if not isinstance(body, dict):
        raise ProjectError(f"{where}: {key} must be a table")
    fixed = _entry_fields(body, ENTRY_KEYS, model, where, key)
    fixed.setdefault("properties", properties)
    return Entry(name=name, **fixed)


def _workflow_entries(spec: Any, where: str, key: str) -> list[Entry]:
    """``[workflows.NAME]`` tables: ``workflow = "file.py"`` and the keys of an instance."""
    if not isinstance(spec, dict):
        raise ProjectError(f"{where}: {key} must be a table of [workflows.NAME] tables")
    entries = []
    for name, body in spec.items():
        if not isinstance(body, dict) or not isinstance(body.get("workflow"), str):
            raise ProjectError(f'{where}: {key}.{name} needs workflow = "FILE.py" (or MODULE:NAME)')
        fixed = _entry_fields(body, ENTRY_KEYS, WORKFLOW_MODEL, where, f"{key}.{name}")
        entries.append(Entry(name=f"workflow:{name}", **fixed))
    return entries


def _mutant_entries(spec: Any, model: str, where: str, key: str) -> list[Entry]:
    """``mutants = ["a", "b"]`` or ``[mutants.a]`` tables (instance keys plus ``breaks``)."""
    if isinstance(spec, list):
        return [_mutant(name, {}, model, where, key) for name in _names(spec, key, where)]
    if isinstance(spec, dict):
        return [_mutant(name, body, model, where, f"{key}.{name}") for name, body in spec.items()]
    raise ProjectError(f"{where}: {key} must be a list of mutant names or [mutants.NAME] tables")


def _mutant(name: str, body: Any, model: str, where: str, key: str) -> Entry:
    if not isinstance(body, dict):
        raise ProjectError(f"{where}: {key} must be a table")
    fixed = _entry_fields(body, MUTANT_KEYS, model, where, key)
    if fixed.pop("properties", None):
        raise ProjectError(f"{where}: {key}.properties: a mutant entry names one property: breaks")
    model_name = fixed.get("model", model)
    try:
        mutant = find_mutant(model_name, name)
    except UsageError as exc:
        raise ProjectError(f"{where}: {key}: {exc}") from None
    breaks = fixed.pop("breaks", mutant.breaks)
    fixed.setdefault("deadlock", False)  # a mutant entry is about its property, not deadlocks
    return Entry(name=f"mutant:{name}", mutant=name, expect=CAUGHT, properties=(breaks,), **fixed)


def _entry_fields(
    body: dict[str, Any], keys: dict[str, Any], model: str, where: str, key: str
) -> dict[str, Any]:
    """Split an entry's table into Entry fields and model options, checking every key's type."""
    model = _typed(body, "model", str, where, f"{key}.") or model
    if "properties_from" in body and model == DEFAULT_MODEL:
        model = WORKFLOW_MODEL  # the KMS model, with the user's properties
    known = _model_options(model, where, key)
    fields: dict[str, Any] = {"model": model}
    options: dict[str, Any] = {}
    for name, value in body.items():
        if name in keys:
            fields[name] = _typed(body, name, keys[name], where, f"{key}.")
        elif name in known:
            options[name] = _option_value(name, value, known[name], where, key)
        else:
            raise ProjectError(f"{where}: {key}: {_unknown_key(name, keys, known, model)}")
    if "properties" in fields:
        fields["properties"] = _names(fields["properties"], f"{key}.properties", where)
    if "max_seconds" in fields:
        fields["max_seconds"] = float(fields["max_seconds"])
    _check_limits(fields, where, key)
    fields["options"] = options
    return fields


def _check_limits(fields: dict[str, Any], where: str, key: str) -> None:
    """The limits follow the command line's rules (a positive whole number; seconds above 0)."""
    for name, valid in (
        ("max_states", positive_int),
        ("max_depth", positive_int),
        ("max_seconds", positive_seconds),
    ):
        if name in fields:
            try:
                valid(str(fields[name]))
            except ArgumentTypeError as exc:
                raise ProjectError(f"{where}: {key}.{name} {exc}") from None


def _unknown_key(name: str, keys: Iterable[str], options: Iterable[str], model: str) -> str:
    """Name the key, and the likely intended one: the full list of options is a command away."""
    if difflib.get_close_matches(name, [*keys, *options], n=1):
        return unknown_name("key", name, [*keys, *options])
    return (
        f"unknown key {echo(name)} (entry keys: {', '.join(keys)}; "
        f"model options: see `mrkcheck list options {model}`)"
    )


def _model_options(model: str, where: str, key: str) -> dict[str, inspect.Parameter]:
    try:
        return factory_options(load_factory(model))
    except UsageError as exc:
        raise ProjectError(f"{where}: {key}.model: {exc}") from None


def _option_value(name: str, value: Any, param: inspect.Parameter, where: str, key: str) -> Any:
    """A model option must have the option's type, checked as ``-D`` and trace headers are."""
    try:
        return option_value(name, value, param)
    except UsageError as exc:
        raise ProjectError(f"{where}: {key}.{name}: {exc}") from None


def _typed(table: dict[str, Any], name: str, kind: Any, where: str, prefix: str) -> Any:
    if name not in table:
        return None
    value = table[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise ProjectError(f"{where}: {prefix}{name}: expected {wanted}, not {value!r}")
    return value


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(f"{where}: {key} must be a list of names, not {value!r}")
    return tuple(value)


def _no_unknown(table: dict[str, Any], allowed: Iterable[str], where: str, key: str) -> None:
    for name in table:
        if name not in allowed:
            at = f"{key}: " if key else ""
            message = unknown_name("key", name, allowed, f"keys: {', '.join(sorted(allowed))}")
            raise ProjectError(f"{where}: {at}{message}")


# --- checks that need the model -----------------------------------------------------------------


def _validate_build(entry: Entry, where: str) -> None:
    """Build the entry's model now, so a bad value fails before the first state is explored."""
    try:
        entry.build()
    except (ModelError, UsageError, TypeError) as exc:
        raise ProjectError(f"{where}: {_entry_key(entry)}: {exc}") from None


def _relative_paths(entry: Entry, folder: Path) -> Entry:
    """File options (``workflow = "runbook.py"``) are relative to the project file's folder."""
    options = dict(entry.options)
    for name in PATH_OPTIONS:
        value = options.get(name)
        if isinstance(value, str) and value.endswith(".py") and not Path(value).is_absolute():
            options[name] = ",".join(_from(folder, part.strip()) for part in value.split(","))
    return replace(entry, options=options)


def _from(folder: Path, path: str) -> str:
    """``path`` of the project's ``folder``, written relative to the current folder if it can be."""
    target = (folder / path).resolve()
    try:
        return str(target.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(target)


def _entry_key(entry: Entry) -> str:
    if entry.name.startswith("workflow:"):
        return f"workflows.{entry.name.removeprefix('workflow:')}"
    if entry.expect == CAUGHT:
        return f"mutants.{entry.mutant}"
    return f"instances.{entry.name}"


def _with_line(entry: Entry, lines: list[str], prefix: str) -> Entry:
    """Remember the line where the entry's table (or its name in a mutant list) starts, so that
    a GitHub annotation points at it."""
    caught = entry.expect == CAUGHT
    name = entry.mutant if caught and entry.mutant else entry.name
    group = "mutants" if caught else "instances"
    if entry.name.startswith("workflow:"):
        name, group = entry.name.removeprefix("workflow:"), "workflows"
    table = re.compile(rf"^\s*\[\s*{re.escape(prefix + group)}\.[\"']?{re.escape(name)}[\"']?\s*\]")
    listed = re.compile(rf"[\"']{re.escape(name)}[\"']")
    in_list = False
    for number, text in enumerate(lines, start=1):
        in_list = in_list or bool(re.match(r"^\s*mutants\s*=", text))
        if table.match(text) or (caught and in_list and listed.search(text)):
            return replace(entry, line=number)
    return entry
