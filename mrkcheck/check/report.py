"""Human-readable reports: the summary of a check, counterexample tables, and the progress line
shown on a terminal while a search runs."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Any

from mrkcheck.check.result import CTI_NOTE, FIRST_VIOLATION, VIOLATED, CheckResult, Stats, Trace


def trace_table(
    trace: Trace,
    max_width: int = 18,
    *,
    changed_only: bool = False,
    witnesses: Collection[int] = (),
    extra: Sequence[tuple[str, Sequence[str]]] = (),
) -> str:
    """Steps as columns, state slots as rows; a value that changed at that step is marked ``*``.

    Only slots whose value changes somewhere in the trace are shown, so a long state vector
    still prints as a compact table; unchanged slots are summarised in one line. ``changed_only``
    prints a value only where it changes (and in the first column), as TLC's ``-difftrace``;
    ``witnesses`` are slots that make the property false in the last state: always shown,
    their value there followed by ``!``; ``extra`` rows (an expression evaluated along the trace) come last.
    """
    slots = trace.schema.slots()
    moving = [
        (var, idx, slot)
        for var, idx, slot in slots
        if slot in witnesses or len({step.state[slot] for step in trace.steps}) > 1
    ]
    last = len(trace.steps) - 1
    header = ["step"] + [str(i) for i in range(len(trace.steps))]
    actions = ["action"] + [_clip(trace.label(i), max_width) for i in range(len(trace.steps))]
    if trace.loop is not None:
        header[trace.loop + 1] += " <loop"
        header[-1] += " >back" if trace.loop < last else " (stutters)"
    rows = [header, actions]
    for var, idx, slot in moving:
        row = [var[idx].label]
        for i, step in enumerate(trace.steps):
            value = var.domain.show(step.state[slot])
            changed = i > 0 and trace.steps[i - 1].state[slot] != step.state[slot]
            shown = value if changed or i == 0 or not changed_only else ""
            witness = "!" if i == last and slot in witnesses else ""
            row.append(("*" if changed else " ") + shown + witness)
        rows.append(row)
    rows += [[label, *(" " + v for v in values)] for label, values in extra]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(2, "  ".join("-" * w for w in widths))
    constant = len(slots) - len(moving)
    start = "their value in the first state" if trace.cti else "their initial value"
    notes = [f"{constant} other slots keep {start}"] if constant else []
    notes.append("* marks a change")
    if witnesses:
        notes.append("! marks the values that make the property false")
    if constant or witnesses or trace.loop is not None:
        lines.append(f"({'; '.join(notes)})")
    return "\n".join(lines)


def evaluation_error_text(trace: Trace, action: str, expression: str) -> str:
    """The run that reaches an evaluation error and the step that fails, as TLC prints "the
    behavior up to this point"."""
    failing = f"  {len(trace.steps):>3}  {action}: evaluation fails" if action else ""
    if expression:
        failing += f" in {expression}"
    lines = [f"The run that reaches the error ({len(trace)} steps), then the failing step:"]
    lines += [step_list(trace), failing, trace_table(trace)]
    return "\n".join(line for line in lines if line)


def step_list(trace: Trace) -> str:
    """The full action label of every step (the table clips them to keep columns narrow)."""
    lines = [f"  {i:>3}  {trace.label(i)}" for i in range(len(trace.steps))]
    if trace.cti:
        lines[0] += f"  ({CTI_NOTE})"
    if trace.loop is not None:
        lines.append(loop_line(trace))
    return "\n".join(lines)


def loop_line(trace: Trace) -> str:
    """How a lasso goes on forever, in words."""
    assert trace.loop is not None
    last = len(trace.steps) - 1
    if trace.loop == last:
        return f"  then step {last} stutters forever (no environment step is enabled in it)"
    return f"  then back to step {trace.loop}: steps {trace.loop}-{last} repeat forever"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def stats_line(stats: Stats, derived: bool = False) -> str:
    """The counts, time and rate; ``derived`` counts were not searched (independent key sets), so
    no rate is given for them."""
    rate = stats.generated / stats.seconds if stats.seconds > 0 else 0.0
    counts = (
        f"{stats.distinct:,} distinct states, {stats.generated:,} generated, depth {stats.depth}"
    )
    if derived:
        return f"{counts} (derived), {stats.seconds:.2f}s"
    return f"{counts}, {stats.seconds:.2f}s ({rate:,.0f} generated/s)"


def progress_line(stats: Stats) -> str:
    rate = stats.generated / stats.seconds if stats.seconds > 0 else 0.0
    return (
        f"depth {stats.depth}: {stats.distinct:,} distinct, {stats.generated:,} generated, "
        f"queue {stats.queue:,}, {rate:,.0f}/s"
    )


def summary_text(result: CheckResult, show_traces: bool = True) -> str:
    """The text printed by ``mrkcheck check``: statistics, one line per property, counterexamples."""
    derived = bool(result.independence and result.independence.get("derived"))
    out = [f"model {result.model} {_options(result.options)}", stats_line(result.stats, derived)]
    if result.independence is not None:
        out.append(result.independence["reason"])
    if result.cut_phase == "liveness":
        out.append(
            f"liveness stopped early ({result.stopped}): 'eventually' properties are UNKNOWN; "
            "the safety search was complete"
        )
    elif result.stopped == FIRST_VIOLATION:
        out.append(
            "search stopped at the first violation, as TLC does: properties not violated by then "
            "are UNKNOWN (--continue searches on and finds every violated property)"
        )
    elif not result.complete:
        out.append(f"search stopped early ({result.stopped}): properties not violated are UNKNOWN")
    for r in result.properties:
        length = "" if r.trace is None else f" (trace of {len(r.trace)} steps)"
        note = ""
        if r.checked.expected == VIOLATED:
            note = " [documented counterexample: expected to be violated]"
        out.append(f"  {r.status.upper():9} {r.checked.kind:9} {r.name}{length}{note}")
    if result.deadlock is not None:
        out.append(f"  DEADLOCK  reached after {len(result.deadlock)} steps")
    if result.never_enabled:
        out.append(never_enabled_warning(result.never_enabled))
    if show_traces:
        for r in result.violations:
            out.append("")
            out.append(f"Property {r.name} is violated.")
            if r.checked.rule:
                out.append(f"Rule: {r.checked.rule}")
            if r.trace is not None:
                out.append(f"Counterexample ({len(r.trace)} steps):")
                out.append(step_list(r.trace))
                out.append(trace_table(r.trace))
        if result.deadlock is not None:
            out.append("")
            out.append("Deadlock: no action is enabled in the last state.")
            out.append(trace_table(result.deadlock))
    return "\n".join(out)


def never_enabled_warning(labels: list[str], shown: int = 3) -> str:
    """One line naming the first few instances no reachable state enables (all: ``--coverage``)."""
    listed = ", ".join(labels[:shown])
    more = f", ... ({len(labels) - shown} more; see --coverage)" if len(labels) > shown else ""
    noun = "instance" if len(labels) == 1 else "instances"
    return f"warning: {len(labels)} action {noun} never enabled: {listed}{more}"


def coverage_table(result: CheckResult) -> str:
    """Per action: successors generated (``fired``), new distinct states, and how many of its
    instances were never enabled; then every never-enabled instance. TLC's coverage, per action."""
    never = result.never_enabled or []
    idle = Counter(label.partition("(")[0] for label in never)
    fired, found = result.stats.fired, result.stats.found
    rows = [("action", "fired", "new states", "never enabled")]
    rows += [(a, f"{n:,}", _count(found, a), str(idle[a] or "")) for a, n in fired.items()]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = [
        "  ".join(
            [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        ).rstrip()
        for r in rows
    ]
    if result.never_enabled is None:
        lines.append(
            "(never-enabled instances are known only after a complete search without symmetry)"
        )
    lines.extend(f"  never enabled: {label}" for label in never)
    return "\n".join(lines)


def _count(counts: dict[str, int], action: str) -> str:
    """A count, or "-" where there is none (derived counts have no per-action new states)."""
    return f"{counts[action]:,}" if action in counts else "-"


def _options(options: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(options.items()))


# --- progress on a terminal ----------------------------------------------------------------------


LOG_PERIOD = 60.0  # seconds between progress lines off a terminal, as TLC prints them


def progress_printer(quiet: bool = False) -> Callable[[Stats], None] | None:
    """Search progress on stderr: a live line on a terminal; in logs and pipes (CI) one full line
    a minute, so a long run is never silent for long. ``quiet`` silences both."""
    return _printer(progress_line, quiet)


def status_printer(phase: str, quiet: bool = False) -> Callable[[str], None] | None:
    """Progress of a phase that has no statistics of its own (liveness, a proof), the same way."""
    return _printer(lambda text: f"{phase}: {text}", quiet)


def _printer(render: Callable[[Any], str], quiet: bool) -> Callable[[Any], None] | None:
    if quiet:
        return None
    if sys.stderr.isatty():

        def live(item: Any) -> None:
            sys.stderr.write("\r\033[K" + render(item))
            sys.stderr.flush()

        return live
    next_line = time.monotonic() + LOG_PERIOD

    def periodic(item: Any) -> None:
        nonlocal next_line
        if time.monotonic() >= next_line:
            next_line = time.monotonic() + LOG_PERIOD
            print(f"progress: {render(item)}", file=sys.stderr, flush=True)

    return periodic


def clear_progress() -> None:
    """Erase the progress line before the results are printed."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
