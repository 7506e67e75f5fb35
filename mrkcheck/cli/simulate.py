"""``mrkcheck simulate [MODEL] [model options] --n-traces N --max-steps K --seed S``: random walks
of the model (no endpoint), every property checked at every step; a violation is shrunk and
written as ITF. For instances too large to explore exhaustively; nothing it prints is a proof."""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.report import clear_progress, status_printer, trace_table
from mrkcheck.check.result import EXIT_INTERRUPTED, EXIT_OK, EXIT_SAFETY
from mrkcheck.cli.common import add_model_options, add_output_options, build_model, emit_report
from mrkcheck.errors import UsageError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="random walks of the model, every property checked at every step (no proof)",
        epilog="exit status: 0 no violation found (not a proof); 12 a property is violated (the "
        "shrunk trace under --out); 130 interrupted (what was simulated is reported); 150 bad "
        "input",
    )
    add_model_options(p)
    p.add_argument("--n-traces", type=int, default=1000, help="random walks (default 1000)")
    p.add_argument("--max-steps", type=int, default=50, help="steps per walk (default 50)")
    p.add_argument("--seed", type=int, help="seed of the walks and the shrinking (default: random)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_output_options(p)
    p.set_defaults(run=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from mrkcheck.check.simulate import simulate  # lazily: loads Hypothesis
    from mrkcheck.traces.itf import write_itf

    if args.n_traces < 1 or args.max_steps < 1:
        raise UsageError("--n-traces and --max-steps must be at least 1")
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    model, _ = build_model(args)
    interrupts.enter("simulation")
    result = simulate(
        model, args.n_traces, args.max_steps, seed, status_printer("simulate", args.quiet)
    )
    clear_progress()
    interrupts.enter(interrupts.REPORTING)
    written = []
    if result.trace is not None and args.mutant:
        result.trace.options["mutant"] = args.mutant  # so that `trace check` replays the mutant
    if result.trace is not None and args.out:
        path = Path(args.out) / f"{model.name}-{result.violated}.itf.json"
        write_itf(result.trace, path)
        written.append(str(path))
    emit_report(result.as_dict(), lambda: _text(result), args, written)
    if result.cut:
        print(
            f"mrkcheck: interrupted during simulation, after {result.traces} traces",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_SAFETY if result.violated else EXIT_OK


def _text(result: Any) -> str:
    lines = [
        f"simulate {result.model}: {result.traces} traces, {result.steps} steps in "
        f"{result.generation_seconds:.1f} s ({result.traces_per_second:,.1f} traces/s, "
        f"{result.steps_per_second:,.0f} steps/s)" + (" (interrupted)" if result.cut else "")
    ]
    if result.trace is None:
        lines.append("no property violated in these walks (a simulation proves nothing)")
    else:
        lines.append(
            f"Property {result.violated} is violated (found in trace {result.found_at}; "
            f"shrunk in {result.shrink_replays} replays to {len(result.trace.steps) - 1} steps):"
        )
        lines += [f"  {i:>3}  {s.label}" for i, s in enumerate(result.trace.steps)]
        lines.append(trace_table(result.trace))
    lines.append(f"seed: {result.seed} (--seed {result.seed} repeats these walks)")
    return "\n".join(lines)
