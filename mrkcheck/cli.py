"""The ``mrkcheck`` command: the only module that sees every layer.

Exit codes follow TLC's: 0 all properties hold, 12 safety violation, 13 liveness violation,
11 deadlock, 75 evaluation error, 150 bad model or configuration, 255 internal error; and ours:
15 search cut by a limit with no violation found, 16 out of memory, 130 interrupted.
Bad input is one line on stderr, never a traceback; Ctrl-C, SIGTERM and lack of memory print and
write what was found so far.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.compile import EvaluationError
from mrkcheck.inputs import UsageError, echo, is_blank, output_file, output_folder, unknown_name
from mrkcheck.mutation import Mutant
from mrkcheck.report import coverage_table, progress_line, summary_text
from mrkcheck.result import (
    EXIT_BAD_INPUT,
    EXIT_EVALUATION,
    EXIT_INCOMPLETE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OUT_OF_MEMORY,
    INTERRUPTED,
    OUT_OF_MEMORY,
    CheckResult,
    Stats,
)
from mrkcheck.spec import Model, ModelError

# Models known by name; anything else is given as ``module:function``.
MODELS = {
    "kms": "mrkcheck.model.kms:build",
    "twophase": "mrkcheck.examples.twophase:build",
}
DEFAULT_MODEL = "kms"


class _Parser(argparse.ArgumentParser):
    """argparse with mrkcheck's rules for bad input, for every subcommand and every option."""

    def error(self, message: str) -> None:  # one line, exit 150, as DESIGN.md asks
        raise UsageError(message)

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        """Refuse empty values: ``--mutant "$M"`` with ``$M`` unset must not check the correct
        model and pass. Checks raised by a ``type=`` (output paths) keep their own message.
        (A subcommand's arguments pass here as a whole too: the subcommand checks its own.)"""
        if is_blank(arg_string) and action.nargs != argparse.PARSER:
            raise argparse.ArgumentError(action, "must not be empty")
        try:
            return super()._get_value(action, arg_string)
        except UsageError as exc:
            raise argparse.ArgumentError(action, str(exc)) from None

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An unknown choice (subcommand, list topic, format) names the closest one."""
        if action.choices is not None and value not in action.choices:
            raise argparse.ArgumentError(action, unknown_name("choice", value, action.choices))


# --- model loading --------------------------------------------------------------------------------


def load_factory(spec: str) -> Callable[..., Model]:
    target = MODELS.get(spec, spec)
    if ":" not in target:
        raise UsageError(
            unknown_name(
                "model", spec, MODELS, f"use one of {', '.join(MODELS)} or module:function"
            )
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import model module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a module that fails on import is still bad input
        raise UsageError(f"model module {module_name!r} fails on import: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory) or not _returns_model(factory):
        raise UsageError(f"{module_name} has no model function {attr!r}")
    return factory


def _returns_model(factory: Callable[..., Any]) -> bool:
    """Whether a function may build a Model: ``mrkcheck.cli:main`` must be refused, not called
    (it would parse this very command line again, forever). Unannotated functions are trusted."""
    try:
        annotation = inspect.signature(factory).return_annotation
    except (TypeError, ValueError):
        return False
    name = getattr(annotation, "__name__", annotation)
    return annotation is inspect.Signature.empty or "Model" in str(name)


def find_mutant(model: str, name: str) -> Mutant:
    """The mutant ``name`` of a model's catalogue; an unknown name gets a "did you mean"."""
    mutants = load_mutants(model)
    if name not in mutants:
        raise UsageError(
            unknown_name("mutant", name, mutants, f"see: mrkcheck list mutants {model}")
        )
    return mutants[name]


def load_mutants(spec: str) -> dict[str, Mutant]:
    module_name = MODELS.get(spec, spec).partition(":")[0]
    package = module_name.rsplit(".", 1)[0]
    for candidate in (f"{package}.mutants", f"{module_name}_mutants", module_name):
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        if hasattr(module, "MUTANTS"):
            return {m.name: m for m in module.MUTANTS}
    return {}


def factory_options(factory: Callable[..., Model]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(factory).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


# --- model options: one check for -D, the project file and a trace's header -------------------

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


def build_model(args: argparse.Namespace) -> tuple[Model, dict[str, Any]]:
    factory = load_factory(args.model)
    known = factory_options(factory)
    options: dict[str, Any] = {}
    for flag in ("rm", "regions", "key_sets", "partitions"):
        value = getattr(args, flag, None)
        if value is not None:
            options[flag] = parse_value(flag, value, known_option(flag, known, args.model))
    options.update(parse_set(args.set or [], known, args.model))
    builder: Callable[..., Model] = factory
    if getattr(args, "mutant", None):
        builder = find_mutant(args.model, args.mutant).build
    model = builder(**options)
    if getattr(args, "property", None):
        model = model.select(args.property)
    return model, options


# --- commands -------------------------------------------------------------------------------------


def _progress_printer() -> Callable[[Stats], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(stats: Stats) -> None:
        sys.stderr.write("\r\033[K" + progress_line(stats))
        sys.stderr.flush()

    return show


def _status_printer(phase: str) -> Callable[[str], None] | None:
    """Progress of a phase that has no statistics of its own (liveness), on a terminal only."""
    if not sys.stderr.isatty():
        return None

    def show(text: str) -> None:
        sys.stderr.write(f"\r\033[K{phase}: {text}")
        sys.stderr.flush()

    return show


def _clear_progress() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def cmd_check(args: argparse.Namespace) -> int:
    from mrkcheck.cli_project import report_single, route_check
    from mrkcheck.explicit import Limits, check

    if (code := route_check(args)) is not None:  # no model, no universe flag: the project file
        return code
    interrupts.enter("building the model")
    model, _ = build_model(args)
    limits = Limits(args.max_states, args.max_depth, args.max_seconds)
    interrupts.enter("safety search")
    result = check(
        model,
        symmetry=args.symmetry,
        deadlock=args.deadlock,
        limits=limits,
        progress=_progress_printer(),
        stop_when_all_violated=False,
    )
    _clear_progress()
    has_liveness = any(p.kind == "eventually" for p in model.properties)
    if args.liveness and args.symmetry and has_liveness:
        print(
            "note: liveness needs the unreduced graph: not checked with --symmetry", file=sys.stderr
        )
    elif args.liveness and has_liveness:
        from mrkcheck.liveness import add_liveness

        interrupts.enter("liveness")
        add_liveness(result, model, progress=_status_printer("liveness"))
        _clear_progress()
    if args.mutant:
        result.options["mutant"] = args.mutant
    result.incomplete_ok = args.allow_incomplete
    interrupts.enter(interrupts.REPORTING)
    written = write_traces(result, args.out) if args.out else []
    emit(result, args, written)
    if args.coverage:  # on stderr when stdout carries the JSON
        print(coverage_table(result), file=sys.stderr if args.json == "-" else sys.stdout)
    report_single(result, args)  # --junit; annotations on GitHub Actions
    note = ending_note(result)
    if note:
        print(note, file=sys.stderr)
    return result.exit_code


def ending_note(result: CheckResult) -> str | None:
    """One line on stderr when the run did not finish: which phase was cut, and how."""
    phase = result.cut_phase or "search"
    if result.stopped == INTERRUPTED:
        return f"mrkcheck: interrupted during {phase}: the results above are partial"
    if result.stopped == OUT_OF_MEMORY:
        return f"mrkcheck: out of memory during {phase}: the results above are partial"
    if not result.cut_by_limit:
        return None
    if result.exit_code == EXIT_INCOMPLETE:
        return (
            f"mrkcheck: incomplete: the {phase} stopped at a limit ({result.stopped}) before it "
            f"was complete; exit code {EXIT_INCOMPLETE} (--allow-incomplete accepts it)"
        )
    if result.incomplete_ok and not result.violations and result.deadlock is None:
        return f"mrkcheck: incomplete: the {phase} stopped at a limit ({result.stopped}), accepted"
    return None


def write_traces(result: CheckResult, out: str) -> list[str]:
    from mrkcheck.traces.itf import write_itf

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


def emit(result: CheckResult, args: argparse.Namespace, written: list[str]) -> None:
    emit_report(result.summary(), lambda: summary_text(result), args, written)


def emit_report(
    data: dict[str, Any], text: Callable[[], str], args: argparse.Namespace, written: list[str]
) -> None:
    """``--json`` alone: the JSON summary on stdout instead of the text; ``--json FILE``: the
    JSON in FILE and the text on stdout; then the paths of the traces written."""
    if args.json is not None:
        data["traces"] = written
        encoded = json.dumps(data, indent=2, sort_keys=True)
        if args.json == "-":
            print(encoded)
            return
        Path(args.json).write_text(encoded + "\n")
    print(text())
    for path in written:
        print(f"wrote {path}")


def cmd_list(args: argparse.Namespace) -> int:
    what = args.what
    if what == "models":
        for name, target in MODELS.items():
            print(f"{name:10} {target}")
        return 0
    factory = load_factory(args.model)
    if what == "options":
        describe = getattr(inspect.getmodule(factory), "OPTION_DOCS", {})
        for name, param in factory_options(factory).items():
            print(f"{name:40} {param.default!r:32} {describe.get(name, '')}")
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


# --- argument parsing -----------------------------------------------------------------------------


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="model name or module:function")
    p.add_argument("--regions", help="Regions: a number, or names (us-east-1,eu-west-1,...)")
    p.add_argument("--key-sets", dest="key_sets", type=str, help="number of key sets")
    p.add_argument("--partitions", help="partitions: a number, or one name per Region")
    p.add_argument("--rm", type=str, help="resource managers (twophase)")
    p.add_argument("--set", "-D", action="append", metavar="KEY=VALUE", help="any model option")
    p.add_argument("--mutant", help="check a seeded bug from the model's catalogue")
    p.add_argument("--property", action="append", help="check only this property (repeatable)")


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--json [FILE]`` and ``--out DIR``, checked (their folders created) while parsing, so a
    path that cannot be written is refused before the run, not after it."""
    p.add_argument(
        "--json", nargs="?", const="-", type=output_file, help="JSON summary to stdout or FILE"
    )
    p.add_argument(
        "--out", type=output_folder, help="write counterexample traces (ITF) to this folder"
    )


def positive_int(text: str) -> int:
    """A limit on states or depth: a whole number of at least 1 (0 would check nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


MAX_SECONDS = 30 * 24 * 3600  # Z3 takes its timeout in milliseconds as a 32-bit number


def positive_seconds(text: str) -> float:
    """A time limit: seconds above 0 and at most 30 days (nan, inf, 1e308 are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number of seconds, not {text!r}") from None
    if not (0 < value <= MAX_SECONDS):  # also false for nan
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_SECONDS} (30 days), not {text}"
        )
    return value


EXIT_CODES_HELP = f"""exit codes: 0 every property holds (or is a documented counterexample);
11 deadlock; 12 safety violation; 13 liveness violation; 14 a project's mutant escaped;
{EXIT_INCOMPLETE} incomplete: a limit (--max-states, --max-depth, --max-seconds) cut the search
before it was complete and no violation was found (0 with --allow-incomplete);
{EXIT_OUT_OF_MEMORY} out of memory; 75 evaluation error; {EXIT_INTERRUPTED} interrupted (Ctrl-C or
SIGTERM); 150 bad input; 255 internal error. Interrupted or out of memory, the results of the
finished phases are still printed and written (--json, --junit, --out)."""


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mrkcheck", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="explore every reachable state and check properties",
        epilog=EXIT_CODES_HELP,
    )
    _add_model_options(check)
    check.add_argument(
        "--symmetry",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="count each class of states equal up to a permutation of symmetric elements once",
    )
    check.add_argument("--deadlock", action=argparse.BooleanOptionalAction, default=True)
    check.add_argument(
        "--liveness",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check 'eventually' properties under weak fairness of environment steps",
    )
    check.add_argument(
        "--max-states", type=positive_int, help="stop after this many distinct states"
    )
    check.add_argument("--max-depth", type=positive_int, help="stop at this BFS depth")
    check.add_argument("--max-seconds", type=positive_seconds, help="stop after this many seconds")
    check.add_argument(
        "--allow-incomplete",
        action="store_true",
        help=f"a search cut by a limit with no violation found exits 0, not {EXIT_INCOMPLETE}",
    )
    add_output_options(check)
    check.add_argument(
        "--junit", metavar="FILE", type=output_file, help="JUnit XML: one test case per property"
    )
    check.add_argument(
        "--coverage", action="store_true", help="per action: successors fired, new states"
    )
    check.set_defaults(run=cmd_check)

    lister = sub.add_parser("list", help="list models, options, properties, mutants or actions")
    lister.add_argument("what", choices=["models", "options", "properties", "mutants", "actions"])
    lister.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    lister.set_defaults(run=cmd_list)

    for extra in _extension_commands():
        extra(sub)
    return parser


def _extension_commands() -> list[Callable[[Any], None]]:
    """Subcommands contributed by other modules (prove, trace, graph...), if present."""
    found = []
    for module_name in ("mrkcheck.cli_prove", "mrkcheck.traces.cli", "mrkcheck.cli_project"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found.append(module.register)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Ctrl-C and SIGTERM at any moment exit 130 without a traceback: the
    commands print what they have; a cut they did not expect ends here, naming the phase."""
    with interrupts.handled():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        interrupts.enter("start-up")
        parser = make_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"mrkcheck: interrupted during {interrupts.current()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        return _error_code(exc)


def _error_code(exc: Exception) -> int:
    """One line on stderr and the exit code of an error. After a signal, any error is taken for
    the interrupt: ctypes (Z3) turns a KeyboardInterrupt into an ArgumentError, and an
    interrupted solver answers "unknown", which may then read as an evaluation error."""
    if interrupts.pending():
        print(f"mrkcheck: interrupted during {interrupts.current()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, UsageError):
        print(f"mrkcheck: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, ModelError):
        print(f"mrkcheck: bad model or options: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, EvaluationError):
        print(f"mrkcheck: evaluation error: {exc}", file=sys.stderr)
        return EXIT_EVALUATION
    if isinstance(exc, MemoryError):
        print(f"mrkcheck: out of memory during {interrupts.current()}", file=sys.stderr)
        return EXIT_OUT_OF_MEMORY
    if isinstance(exc, BrokenPipeError):
        return 0
    if os.environ.get("MRKCHECK_DEBUG"):
        raise exc
    print(f"mrkcheck: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
