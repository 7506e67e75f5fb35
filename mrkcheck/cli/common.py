"""What every command shares: the parser's rules for bad input, the model options (``MODEL``,
``--regions``, ``-D KEY=VALUE``, ``--mutant``...) loaded through the registry, the output options
and the JSON-or-text report."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mrkcheck.errors import UsageError, echo, is_blank, output_file, output_folder, unknown_name
from mrkcheck.lang.model import Model
from mrkcheck.registry import (
    DEFAULT_MODEL,
    factory_options,
    known_option,
    load_factory,
    model_builder,
    parse_set,
    parse_value,
)


class Parser(argparse.ArgumentParser):
    """argparse with mrkcheck's rules for bad input, for every subcommand and every option."""

    words: list[str] = []  # the command line being parsed, for the hints of _unrecognized

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        Parser.words = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str) -> NoReturn:  # one line, exit 150, as DESIGN.md asks
        unknown = "unrecognized arguments: "
        if message.startswith(unknown):
            message = self._unrecognized(message.removeprefix(unknown).split())
        raise UsageError(message)

    def _unrecognized(self, words: list[str]) -> str:
        """A mistyped flag names the closest flag of the command given (``--propery`` →
        ``--property``); a flag of another command, or a model option, says so."""
        flag = next((w.partition("=")[0] for w in words if w.startswith("-")), None)
        if flag is None:
            return f"unrecognized arguments: {echo(' '.join(words))}"
        commands = self._commands()
        command = next((w for w in Parser.words if w in commands), None)
        own = commands[command] if command else self
        if "--set" in own._option_string_actions:  # a command that takes model options
            option = flag.lstrip("-").replace("-", "_")
            model = difflib.get_close_matches(option, sorted(_model_options()), n=1, cutoff=0.8)
            if model:
                return (
                    f"unknown option {echo(flag)}; model options are set with -D {model[0]}=VALUE"
                )
        elsewhere = sorted(c for c, sub in commands.items() if flag in sub._option_string_actions)
        if elsewhere:
            where = ", ".join(f"mrkcheck {c}" for c in elsewhere)
            return f"{echo(flag)} is an option of {where}, not of mrkcheck {command or ''}".rstrip()
        # Compared without their dashes: the shared "--" alone makes "--bogus" look like "--out".
        names = {f.lstrip("-"): f for f in own._option_string_actions}
        close = difflib.get_close_matches(flag.lstrip("-"), sorted(names), n=1)
        see = f"mrkcheck {command} --help" if command else "mrkcheck COMMAND --help"
        hint = f"; did you mean {names[close[0]]!r}?" if close else f" (see: {see})"
        return f"unknown option {echo(flag)}{hint}"

    def _commands(self) -> dict[str, argparse.ArgumentParser]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

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


def _model_options() -> set[str]:
    """The default model's option names (for the hint that they are set with ``-D``)."""
    return set(factory_options(load_factory(DEFAULT_MODEL)))


# --- model options --------------------------------------------------------------------------------


def add_set_option(p: argparse.ArgumentParser, help: str) -> None:  # noqa: A002 - argparse's name
    """``--set``/``-D KEY=VALUE``, repeatable: a model option, read by ``parse_set``."""
    p.add_argument("--set", "-D", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="model name or module:function")
    p.add_argument("--regions", help="Regions: a number, or names (us-east-1,eu-west-1,...)")
    p.add_argument("--key-sets", dest="key_sets", type=str, help="number of key sets")
    p.add_argument("--partitions", help="partitions: a number, or one name per Region")
    p.add_argument("--rm", type=str, help="resource managers (twophase)")
    add_set_option(p, "any model option")
    p.add_argument("--mutant", help="check a seeded bug from the model's catalogue")
    p.add_argument("--property", action="append", help="check only this property (repeatable)")


def build_model(args: argparse.Namespace) -> tuple[Model, dict[str, Any]]:
    factory = load_factory(args.model)
    known = factory_options(factory)
    options: dict[str, Any] = {}
    for flag in ("rm", "regions", "key_sets", "partitions"):
        value = getattr(args, flag, None)
        if value is not None:
            options[flag] = parse_value(flag, value, known_option(flag, known, args.model))
    options.update(parse_set(args.set or [], known, args.model))
    model = model_builder(args.model, getattr(args, "mutant", None))(**options)
    if getattr(args, "property", None):
        model = model.select(args.property)
    return model, options


# --- output ---------------------------------------------------------------------------------------


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--json [FILE]`` and ``--out DIR``, checked (their folders created) while parsing, so a
    path that cannot be written is refused before the run, not after it."""
    p.add_argument(
        "--json", nargs="?", const="-", type=output_file, help="JSON summary to stdout or FILE"
    )
    p.add_argument(
        "--out", type=output_folder, help="write counterexample traces (ITF) to this folder"
    )


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
