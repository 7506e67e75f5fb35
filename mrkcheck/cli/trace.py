"""The ``trace`` subcommand: show or replay an ITF trace file.

    mrkcheck trace show FILE [--format text|png|svg|pdf|html] [-o OUT] [--changed-only]
                             [--eval EXPR]...
    mrkcheck trace check FILE        exit 0: a (fair) run of the model; 12: not; 150: malformed

A trace file names the model (a registered name, ``module:function`` or ``path/model.py:function``)
and options that produced it; ``--model``, ``--set KEY=VALUE`` and ``--mutant`` override them (to
replay a counterexample of a mutant against the real model, say). A file written by another tool
(Apalache, Quint) whose model mrkcheck cannot build is shown generically: its variables as rows,
steps as columns (:mod:`mrkcheck.traces.foreign`). Errors in the file are one line on stderr and
exit code 150.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mrkcheck.check.report import loop_line, trace_table
from mrkcheck.check.result import CTI_LABEL, CTI_NOTE, EXIT_BAD_INPUT, EXIT_OK, EXIT_SAFETY, Trace
from mrkcheck.cli.common import add_set_option
from mrkcheck.errors import UsageError, echo, output_file, unknown_name
from mrkcheck.lang.expr import evaluate
from mrkcheck.lang.model import ACTION, ALWAYS, Model, Property, state_property
from mrkcheck.lang.query import witnesses
from mrkcheck.registry import (
    MODELS,
    factory_options,
    find_mutant,
    load_factory,
    option_value,
    parse_set,
)
from mrkcheck.traces.foreign import generic_trace
from mrkcheck.traces.html import Extras, trace_html
from mrkcheck.traces.itf import (
    Header,
    TraceFormatError,
    from_itf,
    load_json,
    read_header,
    read_text,
)
from mrkcheck.traces.replay import replay

EXIT_NOT_A_RUN = EXIT_SAFETY  # 12, as TLC's exit code for a violated safety property
PICTURES = ("png", "svg", "pdf")
FORMATS = ("text", "html", *PICTURES)


def add_parser(subparsers: Any) -> None:
    """Add ``trace`` with ``show`` and ``check``."""
    trace = subparsers.add_parser("trace", help="show, replay or regenerate ITF trace files")
    actions = trace.add_subparsers(  # required: a bare ``trace`` is one line and exit 150
        dest="trace_command",
        metavar="{show,check}",
        parser_class=type(trace),
        required=True,
    )

    show = actions.add_parser("show", help="draw a trace: text table, picture or HTML page")
    _add_trace_options(show)
    show.add_argument("--format", choices=FORMATS, help="default: by -o's extension, else text")
    show.add_argument(
        "-o", "--output", type=output_file, help="file to write (default: stdout for text)"
    )
    show.add_argument("--colour", "--color", dest="colour", help="variable shown as colour")
    show.add_argument("--marker", help="variable shown as marker")
    show.add_argument(
        "--changed-only",
        action="store_true",
        help="text: print a value only where it changes (as TLC's -difftrace); html: start with "
        "the rows that never change hidden (a checkbox shows them)",
    )
    show.add_argument(
        "--eval",
        action="append",
        metavar="EXPR",
        help="an expression evaluated in every state, e.g. "
        "'sum(role[k1, r] == PRIMARY for r in Region)' or 'key_state[k1, us-east-1] == Updating' "
        "(slots, values by name, == != < <= > >= in, and or not, + -, sum/any/all over a "
        "universe; repeatable)",
    )
    show.set_defaults(run=_one_line_errors(cmd_show))

    check = actions.add_parser(
        "check",
        help="replay a trace: is it a run of the model?",
        epilog="exit status: 0 the trace is a run of the model (a lasso: a weakly fair one); 12 "
        "it is not (the first wrong step, or the environment step an unfair loop never takes, "
        "is named); 150 the file is malformed or names an unknown model",
    )
    _add_trace_options(check)
    check.set_defaults(run=_one_line_errors(cmd_check))


def _add_trace_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="an ITF trace (.itf.json)")
    p.add_argument("--model", help="model to read it with (default: the file's header)")
    add_set_option(p, "override an option")
    p.add_argument("--mutant", help="replay against this mutant ('none': the unmutated model)")


def _one_line_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """A malformed trace is bad input: one line on stderr, exit code 150, no traceback."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except TraceFormatError as exc:
            print(f"mrkcheck: bad trace: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return run


# --- loading a trace with its model ---------------------------------------------------------------


def load_trace(args: argparse.Namespace, generic: bool = False) -> tuple[Trace, Model | None]:
    """Read ``args.file`` with the model its header (or ``--model``/``--set``) names; with
    ``generic``, a file of another tool whose model mrkcheck cannot build comes back without a
    model, read generically."""
    name = args.file
    doc = load_json(read_text(name), name)
    header = read_header(doc, name)
    source = args.model or header.model_source()
    if not args.model and not _buildable(header):
        if generic and (args.set or args.mutant):
            raise UsageError(
                f"{name} names no model mrkcheck can build: --set and --mutant need --model"
            )
        if generic:
            return generic_trace(doc, name), None
        if header.source:
            raise TraceFormatError(
                f"{name}: written by another tool for {header.source!r}, which mrkcheck cannot "
                "build: `trace show` draws it; to replay it pass --model"
            )
    if not source:
        raise TraceFormatError(f"{name}: header #meta.source names no model; pass --model")
    model = _build(source, header.options, args, name)
    return from_itf(doc, model.schema, name), model


def _buildable(header: Header) -> bool:
    """Whether the header names a model mrkcheck can build: any file mrkcheck wrote (an unknown
    name there is an error, not a reason to guess), or a registered name or import string."""
    return header.ours or header.source in MODELS or ":" in header.source


def _build(source: str, header_options: dict, args: argparse.Namespace, name: str) -> Model:
    factory = load_factory(source)
    known = factory_options(factory)
    options = dict(header_options)
    header_mutant = options.pop("mutant", None)
    mutant = args.mutant or _header_mutant(header_mutant, source, name)
    if args.model:  # another model: the file's options may mean nothing to it
        options = {k: v for k, v in options.items() if k in known}
    options = _header_options(options, known, source, name)
    options.update(parse_set(args.set or [], known, source))
    if mutant and mutant != "none":
        return find_mutant(source, mutant).build(**options)
    return factory(**options)


def _header_mutant(mutant: Any, source: str, name: str) -> str | None:
    """The header's mutant, if it names one the model has."""
    if mutant is None or mutant == "none":
        return None
    if not isinstance(mutant, str):
        raise TraceFormatError(f"{name}: header option mutant takes a name, not {echo(mutant)}")
    try:
        find_mutant(source, mutant)
    except UsageError as exc:
        raise TraceFormatError(f"{name}: header option mutant: {exc}") from None
    return mutant


def _header_options(options: dict[str, Any], known: dict, source: str, name: str) -> dict:
    """The header's model options, each checked as ``-D`` and the project file check theirs: a
    string "no" must not be read as true and flip ``trace check``'s verdict."""
    checked = {}
    for key, value in options.items():
        if key not in known:
            message = unknown_name("option", key, known, f"see: mrkcheck list options {source}")
            raise TraceFormatError(f"{name}: header #meta.options: {message}")
        try:
            checked[key] = option_value(key, value, known[key])
        except UsageError as exc:
            raise TraceFormatError(f"{name}: header #meta.options: {exc}") from None
    return checked


# --- commands -------------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    trace, model = load_trace(args, generic=True)
    fmt = args.format or _format_of(args.output)
    rule = (_rule(model, trace) if model is not None else "") or divergence_line(args.file)
    extras = _extras(trace, model, args)
    if fmt == "text":
        text = trace_text(trace, rule, extras)
        if args.output:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
        return EXIT_OK
    out = Path(args.output or output_file(_default_output(args.file, fmt)))
    if fmt == "html":
        out.write_text(trace_html(trace, rule=rule, extras=extras), encoding="utf-8")
    else:
        from mrkcheck.traces.picture import write_picture  # lazily: matplotlib is slow to import

        write_picture(
            trace,
            out,
            fmt,
            colour=args.colour,
            marker=args.marker,
            witnesses=extras.witnesses,
        )
    print(f"wrote {out}")
    return EXIT_OK


def _extras(trace: Trace, model: Model | None, args: argparse.Namespace) -> Extras:
    """What the model adds to the view: a lasso's explanation, the violation's witnesses, the
    ``--eval`` expressions (these read the file's own variables when the model is unknown)."""
    evals = [(text, tuple(trace.evaluate(text))) for text in args.eval or []]
    lasso: list[str] = []
    witnessed: set[int] = set()
    prop = _property(model, trace)
    if model is not None and trace.loop is not None and trace.property_name:
        from mrkcheck.check.liveness import explain_lasso

        lasso = explain_lasso(model, trace)
    elif prop is not None and trace.loop is None:
        witnessed = _witnesses(model, prop, trace)
    where = (
        "across the last step" if prop is not None and prop.kind == ACTION else "in the last state"
    )
    return Extras(tuple(lasso), frozenset(witnessed), tuple(evals), args.changed_only, where)


def _witnesses(model: Model | None, prop: Property, trace: Trace) -> set[int]:
    """The slots that make ``prop`` false at the end of ``trace``: in its last state (an
    invariant), or across its last step (an action property)."""
    last = trace.steps[-1]
    if prop.kind == ALWAYS:
        expr = state_property(prop).expr
        return witnesses(expr, last.state) if not evaluate(expr, last.state) else set()
    if prop.kind != ACTION or model is None or len(trace.steps) < 2 or last.action is None:
        return set()
    instance = model.instance(last.label)
    step = prop.for_action(instance)
    before = trace.steps[-2].state
    if step is None or evaluate(step, before, last.state):
        return set()
    return witnesses(step, before, last.state)


def _property(model: Model | None, trace: Trace) -> Property | None:
    if model is None or not trace.property_name:
        return None
    return next((p for p in model.properties if p.name == trace.property_name), None)


def _format_of(output: str | None) -> str:
    if not output:
        return "text"
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix in ("htm", "html"):
        return "html"
    if suffix in PICTURES:
        return suffix
    if suffix in ("txt", ""):
        return "text"
    raise UsageError(f"cannot tell the format of {output}: give --format ({', '.join(FORMATS)})")


def _default_output(file: str, fmt: str) -> str:
    base = (
        file[: -len(".itf.json")] if file.endswith(".itf.json") else str(Path(file).with_suffix(""))
    )
    return f"{base}.{fmt}"


def divergence_line(path: str) -> str:
    """For a trace ``mrkcheck conform`` wrote: the divergent call, what the model predicted,
    what the endpoint answered and the rule (from the header's ``#meta``)."""
    meta = load_json(read_text(path), path).get("#meta", {})
    d = meta.get("divergence") if isinstance(meta, dict) else None
    if not isinstance(d, dict):
        return ""
    from mrkcheck.traces.conform_report import short  # lazily: only for conformance traces

    call = meta.get("call") or {}
    probe = f" [probe {call['probe']}]" if isinstance(call, dict) and call.get("probe") else ""
    return (
        f"divergence ({d.get('kind')}) at {d.get('label')}{probe}: model "
        f"{short(d.get('predicted') or {})}; endpoint {short(d.get('endpoint') or {})}; "
        f"rule {d.get('rule')}"
    )


def _rule(model: Model, trace: Trace) -> str:
    prop = _property(model, trace)
    return prop.rule if prop is not None else ""


def trace_text(trace: Trace, rule: str = "", extras: Extras | None = None) -> str:
    """The terminal view: a headline, the table of changing slots, then each step's changes;
    for a lasso, how it loops and why that is a fair counterexample."""
    from mrkcheck.traces.picture import figure_title, options_text  # lazily: matplotlib

    extras = extras or Extras()
    lines = [figure_title(trace), f"options: {options_text(trace) or '(none)'}"]
    if rule:
        lines.append(f"Rule: {rule}")
    if trace.cti:
        lines.append(f"Step 0 ({CTI_LABEL}) is {CTI_NOTE}.")
    table = trace_table(
        trace,
        changed_only=extras.changed_only,
        witnesses=extras.witnesses,
        extra=extras.evals,
    )
    lines += ["", table, "", "Changes:"]
    for i in range(1, len(trace.steps)):
        changes = ", ".join(f"{s} {a} -> {b}" for s, a, b in trace.changes(i)) or "(stutter)"
        lines.append(f"  {i:>3} {trace.label(i)}: {changes}")
    if trace.loop is not None:
        lines.append(loop_line(trace))
    if extras.witnesses:
        named = [
            f"{var[idx].label} = {var.domain.show(trace.steps[-1].state[slot])}"
            for var, idx, slot in trace.schema.slots()
            if slot in extras.witnesses
        ]
        because = f"{trace.property_name} is false {extras.where} because of: "
        lines += ["", because + ", ".join(named)]
    if extras.lasso:
        lines += ["", "Why this is a counterexample:", *extras.lasso]
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    trace, model = load_trace(args)
    assert model is not None  # without ``generic``, a model or an error
    verdict = replay(model, trace)
    print(f"{args.file}: {verdict.line()}")
    if not verdict.ok:
        return EXIT_NOT_A_RUN
    if trace.property_name and trace.property_name in {p.name for p in model.properties}:
        said = "violates" if trace.property_name in verdict.violates else "does NOT violate"
        where = "the lasso" if trace.loop is not None else "its last state"
        print(f"{args.file}: {where} {said} {trace.property_name}")
    return EXIT_OK
