"""Models by name, and the one way to load a model, its options, mutants and lemmas.

The command line, the project file, :mod:`mrkcheck.testing` and conformance all load models
here, so a model name, a ``-D`` option or a mutant means the same thing everywhere. A registered
model is a set of import strings resolved only when used: importing this module (or the command
line) loads no model. Anything else is given as ``module:function``; its mutants and lemmas are
found by convention next to it.

A module that exists but fails to import is reported as one line naming the module and the
error, never taken for "no mutants" or "no lemmas".
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from mrkcheck.errors import UsageError, echo, is_blank, unknown_name
from mrkcheck.lang.model import Model
from mrkcheck.lang.mutation import Mutant


@dataclass(frozen=True)
class Registered:
    """Where a named model's parts live: ``build`` is ``module:function``; ``mutants`` names a
    module with a ``MUTANTS`` list, ``lemmas`` one with a ``lemmas(model)`` function."""

    build: str
    mutants: str | None = None
    lemmas: str | None = None


MODELS = {
    "kms": Registered(
        build="mrkcheck.model.kms:build",
        mutants="mrkcheck.model.mutants",
        lemmas="mrkcheck.model.kms_lemmas",
    ),
    "workflow": Registered(
        build="mrkcheck.model.workflow:build", mutants="mrkcheck.model.workflow"
    ),
    "twophase": Registered(
        build="mrkcheck.examples.twophase:build",
        mutants="mrkcheck.examples.twophase",
        lemmas="mrkcheck.examples.twophase_lemmas",
    ),
    "peer": Registered(
        build="mrkcheck.examples.mrk_peer:build", mutants="mrkcheck.examples.mrk_peer"
    ),
}
DEFAULT_MODEL = "kms"


# --- the parts of a model -------------------------------------------------------------------------


def registered(spec: str) -> Registered:
    """A named model, or a ``module:function`` with its parts found by convention: mutants in
    ``<package>.mutants``, ``<module>_mutants`` or the module itself; lemmas in
    ``<module>_lemmas`` or ``<package>.lemmas``."""
    if spec in MODELS:
        return MODELS[spec]
    if ":" not in spec:
        raise UsageError(
            unknown_name(
                "model", spec, MODELS, f"use one of {', '.join(MODELS)} or module:function"
            )
        )
    module_name = spec.rpartition(":")[0]
    if is_file_spec(module_name):
        folder, stem = str(Path(module_name).parent), Path(module_name).stem
        mutants = _first_file((f"{folder}/{stem}_mutants.py", module_name), "MUTANTS")
        return Registered(spec, mutants, _first_file((f"{folder}/{stem}_lemmas.py",), "lemmas"))
    package = module_name.rsplit(".", 1)[0]
    mutants = _first_module(
        (f"{package}.mutants", f"{module_name}_mutants", module_name), "MUTANTS"
    )
    lemmas = _first_module((f"{module_name}_lemmas", f"{package}.lemmas"), "lemmas")
    return Registered(spec, mutants, lemmas)


def load_factory(spec: str) -> Callable[..., Model]:
    """The function that builds model ``spec`` (a registered name or ``module:function``)."""
    module_name, _, attr = registered(spec).build.rpartition(":")
    module = _import(module_name)
    factory = getattr(module, attr, None)
    if not callable(factory) or not _returns_model(factory):
        raise UsageError(f"{module_name} has no model function {attr!r}")
    return factory


def load_mutants(spec: str) -> dict[str, Mutant]:
    """The mutant catalogue of a model, by name (empty when it has none)."""
    name = registered(spec).mutants
    if name is None:
        return {}
    return {m.name: m for m in getattr(_import(name), "MUTANTS", [])}


def find_mutant(model: str, name: str) -> Mutant:
    """The mutant ``name`` of a model's catalogue; an unknown name gets a "did you mean"."""
    mutants = load_mutants(model)
    if name not in mutants:
        raise UsageError(
            unknown_name("mutant", name, mutants, f"see: mrkcheck list mutants {model}")
        )
    return mutants[name]


def load_lemmas(spec: str) -> ModuleType | None:
    """The lemma module of a model (``lemmas``, and optionally ``ANY_SIZE``, ``SIZE_OPTION``)."""
    name = registered(spec).lemmas
    return None if name is None else _import(name)


def model_builder(spec: str, mutant: str | None = None) -> Callable[..., Model]:
    """The model's build function, or its mutant's; the model it builds remembers ``spec`` and
    the options given (see :func:`remember`)."""
    build = find_mutant(spec, mutant).build if mutant else load_factory(spec)

    @functools.wraps(build)
    def built(**options: Any) -> Model:
        return remember(build(**options), spec, options)

    return built


def remember(model: Model, spec: str, options: dict[str, Any]) -> Model:
    """``model`` with ``source`` set to ``spec`` and the options it was built with added to the
    ones it records (its own values first: KMS records Region names, not a count), so that a
    trace of it can be reopened without flags."""
    merged = {**options, **dict(model.options)}
    return replace(model, source=spec, options=tuple(sorted(merged.items())))


def is_file_spec(module: str) -> bool:
    """``path/to/model.py`` rather than a dotted module name."""
    return module.endswith(".py") or "/" in module or "\\" in module


def _import(module_name: str) -> ModuleType:
    if is_file_spec(module_name):
        return _import_file(module_name)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name.partition(".")[0] and _add_current_folder():
            return _import(module_name)  # ``mrkcheck check mymodel:build`` in mymodel's folder
        raise UsageError(f"cannot import model module {module_name!r}: {exc}") from None
    except ImportError as exc:
        raise UsageError(f"cannot import model module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a module that fails on import is still bad input
        raise UsageError(f"model module {module_name!r} fails on import: {exc}") from None


def import_source(source: str, what: str = "module") -> ModuleType:
    """A Python file (``path/to/file.py``) or an importable module, imported once: what a user
    names with a model, ``--workflow`` or ``--properties-from``. A file's folder goes on the
    import path so that it can import its neighbours. Errors are one line (exit 150)."""
    if not is_file_spec(source):
        return _import(source)
    path = Path(source).resolve()
    if not path.is_file():
        raise UsageError(f"no {what} file {echo(source)}")
    # Keyed by the file's modification time too: a notebook or test that edits it gets the edit.
    name = "mrkcheck_user_" + re.sub(r"\W", "_", f"{path}@{path.stat().st_mtime_ns}")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {what} file {echo(source)}")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a user's file failing on import is bad input
        del sys.modules[name]
        raise UsageError(f"{what} file {echo(source)} fails on import: {exc}") from None
    return module


def _add_current_folder() -> bool:
    """Put the current folder on the import path, as ``python -m`` does (the ``mrkcheck``
    script does not); False when it is there already."""
    here = str(Path.cwd())
    if here in sys.path or "" in sys.path:
        return False
    sys.path.insert(0, here)
    return True


def _import_file(path: str) -> ModuleType:
    """Import a model file by its path (see :func:`import_source`)."""
    return import_source(path, "model")


def _first_file(candidates: Sequence[str], attribute: str) -> str | None:
    """The first candidate file that exists and defines ``attribute`` (see :func:`_first_module`)."""
    for path in candidates:
        if Path(path).is_file() and hasattr(_import(path), attribute):
            return path
    return None


def _first_module(candidates: Sequence[str], attribute: str) -> str | None:
    """The first candidate module that exists and defines ``attribute``. Existence is asked of
    the import system without running the module, so a module that is there but broken is
    imported (and its error reported), not skipped."""
    for name in candidates:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # its package does not exist
            found = False
        if found and hasattr(_import(name), attribute):
            return name
    return None


def _returns_model(factory: Callable[..., Any]) -> bool:
    """Whether a function may build a Model: ``mrkcheck.cli:main`` must be refused, not called
    (it would parse this very command line again, forever). Unannotated functions are trusted."""
    try:
        annotation = inspect.signature(factory).return_annotation
    except (TypeError, ValueError):
        return False
    name = getattr(annotation, "__name__", annotation)
    return annotation is inspect.Signature.empty or "Model" in str(name)


# --- model options: one check for -D, the project file and a trace's header -------------------


def factory_options(factory: Callable[..., Model]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(factory).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_ANY = (str, int, float, bool)


def option_types(param: inspect.Parameter) -> tuple[type, ...]:
    """The types a model option takes, read from its default: an int option may also be a string
    when its annotation says so (``regions``: a count or a list of names); an option whose
    default is None is left to the model to judge."""
    default = param.default
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int, str) if "str" in str(param.annotation) else (int,)
    if isinstance(default, float):
        return (int, float)
    if isinstance(default, str):
        return (str,)
    return _ANY


def option_value(name: str, value: Any, param: inspect.Parameter) -> Any:
    """A typed option value (from a project file or a trace header) checked against the option's
    types: ``"no"`` is not false, and ``null`` or a list is nothing an option takes."""
    kinds = option_types(param)
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return value
    wanted = " or ".join(_TYPE_WORDS[k] for k in kinds)
    raise UsageError(f"option {name} takes {wanted}, not {echo(value)}")


def parse_value(name: str, text: str, param: inspect.Parameter) -> Any:
    """Command-line text of an option, converted by the option's types, then checked as a typed
    value is (:func:`option_value`)."""
    kinds = option_types(param)
    if kinds == _ANY:
        return text
    word = text.strip().lower()
    if kinds == (bool,) and word in _TRUE + _FALSE:
        return option_value(name, word in _TRUE, param)
    for kind in (int, float):
        if kind in kinds:
            try:
                return option_value(name, kind(text), param)
            except ValueError:
                continue
    return option_value(name, text, param)


def parse_set(items: Sequence[str], known: dict[str, inspect.Parameter], model: str) -> dict:
    """``--set KEY=VALUE`` items (``-D``) as typed option values."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or is_blank(value):
            raise UsageError(f"--set takes KEY=VALUE, not {echo(item)}")
        options[key] = parse_value(key, value.strip(), known_option(key, known, model))
    return options


def known_option(key: str, known: dict[str, inspect.Parameter], model: str) -> inspect.Parameter:
    if key not in known:
        raise UsageError(unknown_name("option", key, known, f"see: mrkcheck list options {model}"))
    return known[key]
