"""``mrkcheck prove``: the symbolic engine on the command line .

Three questions, each answered in words that say how far the answer goes:

- bounded model checking to ``--depth``: "violated" with a shortest trace, or "holds up to depth
  k" (never a plain "holds"). Alone, ``mrkcheck prove`` searches to depth
  :data:`DEFAULT_DEPTH`, a few seconds on the default instance; with ``--induction`` or
  ``--any-regions`` BMC runs only when ``--depth`` is given, so a proof never waits behind it;
- ``--induction``: each invariant with the model's strengthening lemmas (1-induction, then
  k-induction up to ``--k``): "proved" for this instance, or a counterexample to induction;
- ``--any-regions``: the cutoff argument of :mod:`mrkcheck.check.cutoff`: "proved for any number of
  Regions", or "only at these sizes" with the reason.

Lemmas come from the model's lemma module (:mod:`mrkcheck.registry`: for ``module:function``,
``<module>_lemmas`` or ``<package>.lemmas``) exposing ``lemmas(model) -> list[Property]``, ``ANY_SIZE`` (default targets of ``--any-regions``),
``SIZE_OPTION`` (the option that sets the number of Regions; default ``regions``) and optionally
``any_size_lemmas(model)`` (the lemmas ``--any-regions`` uses; default ``lemmas``).

Exit codes: 0 every property holds within the stated bound or proof; 12 a violation or a failed
proof (with ``--any-regions``: any target not proved for any number of Regions, refuted or refused
as outside the fragment); 15 ``--max-seconds`` cut the BMC search before ``--depth`` (0 with ``--allow-incomplete``);
16 out of memory; 130 interrupted (Ctrl-C or SIGTERM); 150 bad input. Cut short, the command
still prints and writes (``--json``, ``--out``) what was established so far.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mrkcheck import interrupts
from mrkcheck.check.report import clear_progress, status_printer, trace_table
from mrkcheck.check.result import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUT_OF_MEMORY,
    EXIT_SAFETY,
    HOLDS,
    INTERRUPTED,
    OUT_OF_MEMORY,
    UNKNOWN,
    VIOLATED,
    CheckResult,
)
from mrkcheck.cli.common import (
    add_model_options,
    add_output_options,
    build_model,
    emit_report,
)
from mrkcheck.errors import UsageError, positive_seconds
from mrkcheck.lang.model import ACTION, ALWAYS, Model, Property
from mrkcheck.registry import factory_options, load_factory, load_lemmas, load_mutants

if TYPE_CHECKING:  # for annotations only: Z3 is slow to import
    from mrkcheck.check.symbolic import SymbolicPropertyResult
from mrkcheck.traces.itf import write_ctis, write_traces

DEFAULT_DEPTH = 4  # BMC depth of a bare ``mrkcheck prove``: about 3 s on the default instance

EXIT_CODES_HELP = """exit codes: 0 every property holds within the stated bound or proof; 12 a
violation or a failed proof; 15 --max-seconds cut BMC before --depth (0 with --allow-incomplete);
16 out of memory; 130 interrupted (Ctrl-C or SIGTERM); 150 bad input."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prove",
        help="bounded model checking, induction and any-size proofs with Z3",
        epilog=EXIT_CODES_HELP,
    )
    add_model_options(p)
    p.add_argument(
        "--depth",
        type=int,
        help=f"bounded model checking to this depth (default {DEFAULT_DEPTH}, a few seconds; "
        "with --induction or --any-regions: no BMC unless --depth is given)",
    )
    p.add_argument(
        "--induction",
        action="store_true",
        help="prove each invariant by induction with the model's lemmas (this instance only)",
    )
    p.add_argument("--k", type=int, default=3, help="largest k for k-induction (default 3)")
    p.add_argument(
        "--any-regions",
        action="store_true",
        help="prove invariants for any number of Regions (cutoff argument)",
    )
    p.add_argument("--max-seconds", type=positive_seconds, help="time limit for the BMC search")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help=f"a BMC search cut by --max-seconds exits 0, not {EXIT_INCOMPLETE}",
    )
    add_output_options(p)
    p.set_defaults(run=cmd_prove)


# --- running --------------------------------------------------------------------------------------


class _Report:
    """What has been established so far; printed at the end or on Ctrl-C."""

    def __init__(self, model: Model, options: dict[str, Any]):
        self.model = model
        self.options = options
        self.bmc: CheckResult[SymbolicPropertyResult] | None = None
        self.induction: dict[str, Any] = {}
        self.any_size: dict[str, Any] = {}
        self.failed_proofs: list[str] = []
        self.not_supported: dict[str, str] = {}
        self.stopped = ""  # INTERRUPTED or OUT_OF_MEMORY when the run was cut short
        self.cut_phase = ""  # what was cut: "BMC depth 7", "induction of X"...
        self.say: Callable[[str], None] = lambda text: None  # progress of the proofs

    def established(self) -> bool:
        """Whether any phase returned a result (otherwise a cut run has nothing to report)."""
        return self.bmc is not None or bool(self.induction or self.any_size or self.not_supported)


def cmd_prove(args: argparse.Namespace) -> int:
    if (args.depth is not None and args.depth < 0) or args.k < 1:
        raise UsageError("--depth must be at least 0 and --k at least 1")
    if args.depth is None and not (args.induction or args.any_regions):
        args.depth = DEFAULT_DEPTH
    interrupts.enter("building the model")
    model, options = build_model(args)
    if args.mutant:
        options = {**options, "mutant": args.mutant}
    report = _Report(model, options)
    report.say = status_printer("prove", args.quiet) or report.say
    lemma_module = load_lemmas(args.model)
    try:
        _run(args, model, report, lemma_module)
    except KeyboardInterrupt:
        report.stopped, report.cut_phase = INTERRUPTED, interrupts.current()
    except MemoryError:
        report.stopped, report.cut_phase = OUT_OF_MEMORY, interrupts.current()
    clear_progress()
    if report.stopped and not report.established():  # nothing established to report
        how = "interrupted" if report.stopped == INTERRUPTED else "out of memory"
        print(f"mrkcheck: {how} during {report.cut_phase}", file=sys.stderr)
        return exit_code(report)
    if report.bmc is not None:
        report.bmc.incomplete_ok = args.allow_incomplete
    interrupts.enter(interrupts.REPORTING)
    written = _write_traces(report, args.out) if args.out else []
    _emit(report, args, written)
    note = _ending_note(report)
    if note:
        print(note, file=sys.stderr)
    return exit_code(report)


def _ending_note(report: _Report) -> str | None:
    """One line on stderr when the run was cut: which phase, and that the report is partial."""
    if report.stopped:
        how = "interrupted" if report.stopped == INTERRUPTED else "out of memory"
        return f"mrkcheck: {how} during {report.cut_phase}: the results above are partial"
    if report.bmc is not None and report.bmc.cut_by_limit:
        depth = report.bmc.options.get("bmc_depth")
        accepted = (
            "accepted (--allow-incomplete)"
            if report.bmc.incomplete_ok
            else (f"exit code {EXIT_INCOMPLETE} (--allow-incomplete accepts it)")
        )
        return f"mrkcheck: incomplete: --max-seconds stopped BMC after depth {depth}; {accepted}"
    return None


def _run(args: argparse.Namespace, model: Model, report: _Report, lemma_module) -> None:
    from mrkcheck.check.symbolic import bmc  # lazily: Z3 is slow to import

    if args.depth is not None:
        interrupts.enter("BMC")
        report.bmc = bmc(
            model,
            args.depth,
            max_seconds=args.max_seconds,
            progress=status_printer("bmc", args.quiet),
        )
        if report.bmc.stopped == INTERRUPTED:  # bmc keeps the depths it finished
            report.stopped = INTERRUPTED
            report.cut_phase = f"BMC depth {report.bmc.options.get('bmc_depth', -1) + 1}"
            return
    lemmas = _lemma_fn(lemma_module)
    if args.induction:
        violated = {r.name for r in report.bmc.violations} if report.bmc is not None else set()
        for prop in model.properties:
            if prop.kind in (ALWAYS, ACTION) and prop.name not in violated:
                _prove_by_induction(model, prop, lemmas(model), args.k, report)
    if args.any_regions:
        _prove_any(args, model, report, lemma_module, lemmas)


def _prove_by_induction(model: Model, prop: Property, lemmas, k: int, report: _Report) -> None:
    from mrkcheck.check.symbolic import inductive, k_induction  # lazily: Z3 is slow to import

    report.say(f"induction of {prop.name} ({len(report.induction) + 1} of {_invariants(model)})")
    interrupts.enter(f"induction of {prop.name}")
    own = [lemma for lemma in lemmas if lemma.name != prop.name]
    result = inductive(model, prop, own)
    if not result.holds and result.base is None and prop.kind == ALWAYS and k > 1:
        deeper = k_induction(model, prop, k, own)
        if deeper.holds or deeper.base is not None:
            result = deeper
    report.induction[prop.name] = result
    if not result.holds and prop.expected != VIOLATED:
        report.failed_proofs.append(prop.name)


def _prove_any(args, model: Model, report: _Report, lemma_module, lemmas) -> None:
    from mrkcheck.check.cutoff import prove_any  # lazily: Z3 is slow to import

    option = getattr(lemma_module, "SIZE_OPTION", "regions")
    builder: Callable[..., Model] = load_factory(args.model)
    if option not in factory_options(builder):
        raise UsageError(f"--any-regions: model {args.model} has no option {option!r}")
    if args.mutant:
        builder = load_mutants(args.model)[args.mutant].build
    targets = (
        args.property
        or list(getattr(lemma_module, "ANY_SIZE", ()))
        or [p.name for p in model.properties if p.kind == ALWAYS and p.expected != VIOLATED]
    )
    base = {k: v for k, v in report.options.items() if k not in (option, "mutant")}
    any_size_lemmas = getattr(lemma_module, "any_size_lemmas", lemmas)
    for name in targets:
        if model.get_property(name).kind not in (ALWAYS, ACTION):
            report.not_supported[name] = "only invariants and action properties are supported"
            continue
        report.say(f"any number of Regions: {name}")
        interrupts.enter(f"any number of Regions: {name}")
        result = prove_any(builder, name, any_size_lemmas, option=option, base=base)
        report.any_size[name] = result
        if not result.proved_any:  # refuted, or refused: outside the fragment the argument covers
            report.failed_proofs.append(name)


def _invariants(model: Model) -> int:
    return sum(p.kind in (ALWAYS, ACTION) for p in model.properties)


# --- lemmas ---------------------------------------------------------------------------------------


def _lemma_fn(module: ModuleType | None) -> Callable[[Model], list[Property]]:
    if module is None:
        return lambda model: []
    return module.lemmas


# --- output ---------------------------------------------------------------------------------------


def exit_code(report: _Report) -> int:
    """Cut short first (130, 16), then a violation or failed proof (12), then BMC cut by its time
    limit (15, unless --allow-incomplete), else 0."""
    if report.stopped == INTERRUPTED:
        return EXIT_INTERRUPTED
    if report.stopped == OUT_OF_MEMORY:
        return EXIT_OUT_OF_MEMORY
    if (report.bmc is not None and report.bmc.violations) or report.failed_proofs:
        return EXIT_SAFETY
    if report.bmc is not None and report.bmc.exit_code == EXIT_INCOMPLETE:
        return EXIT_INCOMPLETE
    return EXIT_OK


def render(report: _Report) -> str:
    """The text report: one line per property and question, then counterexamples."""
    opts = ", ".join(f"{k}={v}" for k, v in sorted(report.options.items()))
    out = [f"model {report.model.name} ({opts or 'defaults'})"]
    if report.stopped:
        how = "interrupted" if report.stopped == INTERRUPTED else "out of memory"
        out.append(f"{how} during {report.cut_phase}: below is what was established before")
    if report.bmc is not None:
        b = report.bmc
        out.append(
            f"bounded model checking: depth {b.options.get('bmc_depth')} searched "
            f"in {b.stats.seconds:.2f}s ({b.stopped})"
        )
        for r in b.properties:
            note = " [documented counterexample]" if r.checked.expected == VIOLATED else ""
            out.append(f"  {r.checked.kind:9} {r.name}: {r.describe()}{note}")
    elif not report.stopped:
        out.append("bounded model checking: not run (add --depth N to search runs of N steps)")
    if report.induction:
        lemmas = list(dict.fromkeys(n for res in report.induction.values() for n in res.lemmas))
        out.append("induction (this instance only):")
        out.append(f"  with the lemmas {', '.join(lemmas)}" if lemmas else "  with no lemmas")
        for name, res in report.induction.items():
            expected = report.model.get_property(name).expected == VIOLATED
            note = " [documented counterexample]" if expected else ""
            out.append(f"  {name}: {_induction_text(res)}{note}")
    if report.any_size or report.not_supported:
        out.append("any size (cutoff argument):")
        for name, why in report.not_supported.items():
            out.append(f"  {name}: not attempted ({why})")
        for name, res in report.any_size.items():
            out.append(f"  {name}: {res.describe()}")
            out.extend(f"    {line}" for line in _cutoff_lines(res))
    out.extend(_scope_lines(report))
    out.extend(_counterexamples(report, trace_table))
    return "\n".join(out)


def _cutoff_lines(res) -> list[str]:
    """How the cutoff was computed (docs/any-regions.md), one line per check of the route."""
    a, b = res.analysis
    step = (
        f"params {a.params} + step witnesses {a.witnesses}{f' (at {a.worst})' if a.worst else ''} "
        f"+ broken conjunct {a.conjunct_regions} + invariant witnesses {a.invariant_witnesses}"
    )
    what = "lemmas inductive" if res.route == "via lemmas" else "induction step"
    lines = [_bound_line(what, a, b, step)]
    if res.implication:
        i, j = res.implication
        terms = (
            f"invariant witnesses {i.invariant_witnesses} + broken property {i.conjunct_regions}"
        )
        lines.append(_bound_line("lemmas imply it", i, j, terms))
    if res.reason and res.proved_any:
        lines.append(res.reason)
    return lines


def _bound_line(what: str, a, b, terms: str) -> str:
    if a.bound is not None and a.bound == b.bound:
        return f"{what}: bound {a.bound} = {terms}"
    return (
        f"{what}: no cutoff: bound {a.bound} at size {a.size} ({terms}), {b.bound} at size {b.size}"
    )


def _scope_lines(report: _Report) -> list[str]:
    """Say plainly which results hold for any number of Regions and which for this instance."""
    proved = [n for n, res in report.any_size.items() if res.proved_any]
    options = dict(report.model.options)
    instance = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    others = ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if k not in _SIZE_KEYS)
    lines = ["scope:"]
    if proved:
        lines.append(
            f"  proved for any number of Regions (other options as here: {others}): "
            + ", ".join(proved)
        )
    else:
        lines.append("  proved for any number of Regions: none")
    checked = f" ({instance})" if instance else ""
    lines.append(f"  everything else above holds only for the instance checked{checked}")
    return lines


_SIZE_KEYS = ("regions", "partitions")  # what the any-size proof varies (one partition)


def _induction_text(res) -> str:
    if res.holds:
        how = "implied by the lemmas" if res.implied else res.method.partition(" with ")[0]
        return f"proved ({how}, {res.seconds:.2f}s)"
    if res.base is not None:
        return f"violated from Init in {len(res.base)} steps"
    if res.timed_out:
        return "unknown (time limit)"
    failed = ", ".join(res.cti.failed) if res.cti else "?"
    return f"NOT inductive: {res.cti.label if res.cti else '?'} breaks {failed}"


def _counterexamples(report: _Report, table) -> list[str]:
    out: list[str] = []
    for r in report.bmc.violations if report.bmc is not None else []:
        assert r.trace is not None  # a violation comes with its counterexample
        out += ["", f"Property {r.name} is violated; counterexample ({len(r.trace)} steps):"]
        out.append(table(r.trace))
    failures = [(n, res) for n, res in report.induction.items() if not res.holds]
    for name, res in report.any_size.items():
        if res.failure is not None:
            failures.append((f"{name} at {res.failure[0]} Regions", res.failure[1]))
    for name, res in failures:
        if res.base is not None:
            out += ["", f"{name}: violated from Init ({len(res.base)} steps):", table(res.base)]
        elif res.cti is not None:
            cti = res.cti
            out += [
                "",
                f"Counterexample to induction for {name}: {cti.label} breaks "
                f"{', '.join(cti.failed)} (the first state need not be reachable):",
                table(cti.trace(report.model.name, name)),
            ]
    return out


def summary(report: _Report) -> dict[str, Any]:
    props = []
    searched = {r.name: r for r in report.bmc.properties} if report.bmc is not None else {}
    for p in report.model.properties:
        entry: dict[str, Any] = {"name": p.name, "kind": p.kind, "expected": p.expected}
        entry["bmc"] = None  # not run (--induction or --any-regions without --depth)
        if (r := searched.get(p.name)) is not None:
            entry["bmc"] = {
                "status": r.status,
                "bounded_depth": getattr(r, "bounded_depth", None),
                "trace_length": None if r.trace is None else len(r.trace),
                "text": r.describe(),
            }
        if p.name in report.induction:
            res = report.induction[p.name]
            entry["induction"] = {
                "status": HOLDS if res.holds else (UNKNOWN if res.timed_out else VIOLATED),
                "method": res.method,
                "seconds": round(res.seconds, 3),
                "cti": None
                if res.cti is None
                else {"action": res.cti.label, "failed": res.cti.failed},
                "text": _induction_text(res),
            }
        if p.name in report.any_size:
            res = report.any_size[p.name]
            entry["any_regions"] = {
                "proved": res.proved_any,
                "cutoff": res.cutoff,
                "route": res.route,
                "sizes_checked": res.sizes,
                "seconds": round(res.seconds, 3),
                "text": res.describe(),
            }
        props.append(entry)
    b = report.bmc
    return {
        "model": report.model.name,
        "engine": "symbolic",
        "options": report.options,
        "bmc_depth": b.options.get("bmc_depth") if b is not None else None,
        "bmc_seconds": round(b.stats.seconds, 3) if b is not None else None,
        "stopped": report.stopped or (b.stopped if b is not None else "exhausted"),
        "cut_phase": report.cut_phase or None,
        "exit_code": exit_code(report),
        "proved_for_any_number_of_regions": [
            n for n, res in report.any_size.items() if res.proved_any
        ],
        "properties": props,
    }


def _emit(report: _Report, args: argparse.Namespace, written: list[str]) -> None:
    emit_report(summary(report), lambda: render(report), args, written)


def _write_traces(report: _Report, out: str) -> list[str]:
    found = report.induction.items()
    ctis = {p: r.cti.trace(report.model, p) for p, r in found if r.cti and not r.holds}
    mutant = report.options.get("mutant")
    bmc = write_traces(report.bmc, out) if report.bmc is not None else []
    return bmc + write_ctis(report.model.name, ctis, out, mutant)
