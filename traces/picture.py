"""The counterexample as a picture: lanes (Regions) down, steps across, state as colour and marker.

The layout is generic, because the engine is: lanes are the index tuples of a *colour* variable
(an enum indexed by the lane universe, e.g. ``key_state`` over key sets x Regions), a *marker*
variable indexed the same way (e.g. ``role``) adds a shape, and every other slot that changes in
the trace gets a row of text in a lower panel. :func:`choose_layout` picks ``key_state`` and
``role`` when the model has them, else the first enum variables, so a new model gets a sensible
picture without configuration. Changed cells have a thick outline, each column is labelled with
its action, and the violated property is in the title.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot), so drawing has no global
state and works under any backend; files are written with fixed metadata so bytes are stable.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from mrkcheck.check.result import Step, Trace
from mrkcheck.lang.model import BOOL, Schema, Variable
from mrkcheck.traces.itf import is_numeric

COLOUR_NAMES = ("key_state", "keyState", "state")
MARKER_NAMES = ("role", "replica_role", "kind")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
CHANGED = "#111111"
OTHER_CHANGED = "#ffe27a"
VIOLATED_BG = "#fde0dd"
MAX_OTHER_ROWS = 14
NOTHING = ("none", "absent", "null", "nil")  # value names drawn as nothing / as a pale cell
PALE = "#e9e9e9"
WITNESS = "#d62728"  # outline of the slots that make the property false
LOOP = "#1f77b4"  # the bracket and arrow of a lasso's loop


@dataclass(frozen=True)
class Layout:
    """What the picture maps to what: lanes are the indices of ``colour``."""

    colour: Variable | None
    marker: Variable | None
    lanes: tuple[tuple[str, ...], ...]
    lane_labels: tuple[str, ...]


def _is_enum(var: Variable) -> bool:
    return var.domain.sort != BOOL and not is_numeric(var.domain)


def _pick(candidates: list[Variable], names: tuple[str, ...], given: str | None, schema: Schema):
    if given:
        return schema.variable(given)
    for name in names:
        for var in candidates:
            if var.name == name:
                return var
    return None


def choose_layout(
    schema: Schema,
    colour: str | None = None,
    marker: str | None = None,
    trace: Trace | None = None,
) -> Layout:
    """Pick the colour and marker variables: the named ones (``key_state``, ``role``) first,
    else enums before Booleans, and (given a trace) variables that change in it first."""
    moving = _moving_variables(trace)
    indexed = [v for v in schema.variables if v.over]
    ranked = sorted(indexed, key=lambda v: (not _is_enum(v), v.name not in moving))
    col = _pick(ranked, COLOUR_NAMES, colour, schema) or (ranked[0] if ranked else None)
    if col is None or not col.over:
        return Layout(None, None, (), ())
    compatible = [v for v in ranked if v is not col and _marker_fits(v, col)]
    mark = _pick(compatible, MARKER_NAMES, marker, schema)
    if mark is None and marker is None:
        mark = compatible[0] if compatible else None
    lanes = tuple(col.indices())
    return Layout(col, mark, lanes, _lane_labels(col, lanes))


def _moving_variables(trace: Trace | None) -> set[str]:
    if trace is None:
        return set()
    first = trace.steps[0].state
    return {
        var.name
        for var, _, slot in trace.schema.slots()
        if any(step.state[slot] != first[slot] for step in trace.steps)
    }


def _marker_fits(var: Variable, colour: Variable) -> bool:
    """A marker variable must be indexed like the lanes, or by a suffix of their universes."""
    return bool(var.over) and colour.over[-len(var.over) :] == var.over


def _lane_labels(var: Variable, lanes: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Index tuples as text, leaving out universes with a single element (one key set, say)."""
    keep = [k for k, u in enumerate(var.over) if len(u) > 1] or [len(var.over) - 1]
    return tuple("/".join(lane[k] for k in keep) for lane in lanes)


def short_label(step: Step) -> str:
    """``Action(a, b)``: the parameter values without their names, to fit above a column."""
    if step.action is None:
        return "Init"
    return f"{step.action}({', '.join(v for _, v in step.params)})"


# --- drawing --------------------------------------------------------------------------------------


def trace_figure(
    trace: Trace,
    colour: str | None = None,
    marker: str | None = None,
    title: str | None = None,
    witnesses: Collection[int] = (),
) -> Figure:
    """The picture of ``trace`` (see the module docstring); ``witnesses`` are slots outlined in
    red in the last column (what makes the property false there)."""
    layout = choose_layout(trace.schema, colour, marker, trace)
    others = _other_slots(trace, layout)
    shown_others = others[:MAX_OTHER_ROWS]
    n = len(trace.steps)
    lane_rows, other_rows = len(layout.lanes), len(shown_others)
    width = max(7.0, 1.9 + 0.62 * n, 0.12 * len(title or figure_title(trace)))
    height = 2.6 + 0.48 * lane_rows + 0.3 * other_rows + (0.6 if other_rows else 0)
    fig = Figure(figsize=(width, height), layout="constrained")
    ratios = [max(lane_rows, 1) * 0.48, max(other_rows, 1) * 0.3] if other_rows else [1]
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    axes = list(axes) if other_rows else [axes]
    _draw_lanes(axes[0], trace, layout, witnesses)
    if other_rows:
        _draw_others(axes[1], trace, shown_others, len(others) - other_rows, witnesses)
    fig.suptitle(title or figure_title(trace), fontsize=11, fontweight="bold")
    wrap = max(60, int(width * 15))
    axes[0].set_title(textwrap.fill(options_text(trace), wrap), fontsize=7.5, color="#444444")
    _legend(fig, axes[0], trace, layout)
    return fig


def model_name(trace: Trace) -> str:
    """``kms`` or ``kms (mutant early_commit)``."""
    mutant = trace.options.get("mutant")
    return f"{trace.model} (mutant {mutant})" if mutant else trace.model


def options_text(trace: Trace) -> str:
    """The model options as ``key=value`` words (the mutant is in :func:`model_name`)."""
    return " ".join(f"{k}={v}" for k, v in sorted(trace.options.items()) if k != "mutant")


def figure_title(trace: Trace) -> str:
    """The headline: which model, what the trace shows (options go on a line of their own,
    since a real model has many)."""
    head = model_name(trace)
    if trace.cti:
        return f"{head}: counterexample to induction of {trace.property_name or 'an invariant'}"
    if trace.property_name and trace.loop is not None:
        how = (
            f"steps {trace.loop}-{len(trace)}"
            if trace.loop < len(trace)
            else f"step {trace.loop} stutters"
        )
        return (
            f"{head}: property {trace.property_name} violated by a run that loops forever ({how})"
        )
    if trace.property_name:
        return f"{head}: property {trace.property_name} violated after {len(trace)} steps"
    loop = f", looping back to step {trace.loop}" if trace.loop is not None else ""
    return f"{head}: a run of {len(trace)} steps{loop}"


def _draw_lanes(ax, trace: Trace, layout: Layout, witnesses: Collection[int]) -> None:
    n = len(trace.steps)
    rows = max(len(layout.lanes), 1)
    _columns(ax, trace, rows)
    colours = _palette(layout.colour)
    markers = _marker_map(layout.marker)
    for i, step in enumerate(trace.steps):
        changed = trace.changed_slots(i)
        for row, lane in enumerate(layout.lanes):
            assert layout.colour is not None
            slot = layout.colour.slot(lane)
            edge = CHANGED if slot in changed else "white"
            lw = 2.6 if slot in changed else 1.0
            if i == n - 1 and _lane_slots(layout, lane) & set(witnesses):
                edge, lw = WITNESS, 3.4  # its colour or its marker makes the property false
            face = colours[step.state[slot]]
            ax.add_patch(
                Rectangle((i - 0.42, row - 0.4), 0.84, 0.8, facecolor=face, edgecolor=edge, lw=lw)
            )
            _draw_marker(ax, i, row, step, lane, layout, markers, changed)
    ax.set_yticks(range(rows), layout.lane_labels or [""])
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xlim(-0.6, n - 0.4)
    if layout.colour is not None:
        ax.set_ylabel(" x ".join(u.name for u in layout.colour.over), fontsize=9)
    _action_labels(ax, trace)
    _loop_arrow(ax, trace)


def _columns(ax, trace: Trace, rows: int) -> None:
    """Grey stripes for alternate columns; the last one red when it violates the property."""
    n = len(trace.steps)
    for i in range(n):
        if trace.property_name and i == n - 1 and trace.loop is None:
            ax.axvspan(i - 0.5, i + 0.5, color=VIOLATED_BG, zorder=0)
        elif i % 2:
            ax.axvspan(i - 0.5, i + 0.5, color="#f4f4f4", zorder=0)
    ax.tick_params(axis="both", length=0, labelsize=8)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _lane_slots(layout: Layout, lane: tuple[str, ...]) -> set[int]:
    """The slots a lane's cell shows: its colour and its marker."""
    assert layout.colour is not None
    slots = {layout.colour.slot(lane)}
    if layout.marker is not None:
        slots.add(layout.marker.slot(lane[-len(layout.marker.over) :]))
    return slots


def _draw_marker(ax, i, row, step, lane, layout, markers, changed) -> None:
    var = layout.marker
    if var is None:
        return
    slot = var.slot(lane[-len(var.over) :])
    shape = markers.get(step.state[slot])
    if shape is None:
        return
    colour = "#000000" if slot in changed else "#ffffff"
    ax.plot(i, row, marker=shape, ms=9, mfc=colour, mec="#000000", mew=1.0, zorder=5)


def _action_labels(ax, trace: Trace) -> None:
    top = ax.secondary_xaxis("top")
    labels = [short_label(s) for s in trace.steps]
    labels[0] = trace.label(0)  # Init, or CTI
    top.set_xticks(range(len(trace.steps)), labels)
    top.tick_params(axis="x", rotation=55, labelsize=7.5, length=0)
    for label in top.get_xticklabels():
        label.set_horizontalalignment("left")
    for spine in top.spines.values():
        spine.set_visible(False)
    ax.set_xticks(range(len(trace.steps)), [str(i) for i in range(len(trace.steps))])


def _loop_arrow(ax, trace: Trace) -> None:
    """A lasso: the loop's columns bracketed below the lanes, and an arrow from the last column
    back to the loop's first, labelled "back to step k" (a curl over the last column when it
    stutters forever)."""
    if trace.loop is None:
        return
    last = len(trace.steps) - 1
    bottom = ax.get_ylim()[0]
    ax.plot(
        [trace.loop - 0.45, trace.loop - 0.45, last + 0.45, last + 0.45],
        [bottom - 0.05, bottom + 0.1, bottom + 0.1, bottom - 0.05],
        color=LOOP,
        lw=1.6,
        clip_on=False,
    )
    text = f"back to step {trace.loop}" if trace.loop < last else "stutters forever"
    ax.text(
        (trace.loop + last) / 2, bottom + 0.3, text, ha="center", va="top", fontsize=8, color=LOOP
    )
    end = trace.loop - 0.3 if trace.loop < last else last - 0.3
    arrow = FancyArrowPatch(
        (last + 0.3, bottom + 0.1),
        (end, bottom + 0.1),
        connectionstyle="arc3,rad=-0.35" if trace.loop < last else "arc3,rad=-0.5",
        arrowstyle="-|>",
        mutation_scale=12,
        color=LOOP,
        lw=1.4,
        clip_on=False,
    )
    ax.add_patch(arrow)


def _other_slots(trace: Trace, layout: Layout) -> list[tuple[str, Variable, int]]:
    """Slots outside the lanes whose value changes somewhere in the trace, in schema order."""
    shown: set[int] = set()
    for var in (layout.colour, layout.marker):
        if var is not None:
            shown.update(var.slot(i) for i in var.indices())
    return [
        (var[idx].label, var, slot)
        for var, idx, slot in trace.schema.slots()
        if slot not in shown and len({s.state[slot] for s in trace.steps}) > 1
    ]


def _draw_others(
    ax, trace: Trace, rows: list[tuple[str, Variable, int]], hidden: int, witnesses: Collection[int]
) -> None:
    n = len(trace.steps)
    _columns(ax, trace, len(rows))
    for i, step in enumerate(trace.steps):
        changed = trace.changed_slots(i)
        for row, (_, var, slot) in enumerate(rows):
            if slot in changed:
                ax.add_patch(
                    Rectangle((i - 0.46, row - 0.42), 0.92, 0.84, facecolor=OTHER_CHANGED, lw=0)
                )
            if i == n - 1 and slot in witnesses:
                ax.add_patch(
                    Rectangle(
                        (i - 0.46, row - 0.42), 0.92, 0.84, fill=False, edgecolor=WITNESS, lw=2.4
                    )
                )
            text = var.domain.show(step.state[slot])
            ax.text(i, row, _clip(text, 9), ha="center", va="center", fontsize=6.5)
    labels = [label for label, _, _ in rows]
    if hidden:
        labels[-1] += f"  (+{hidden} more)"
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xlabel("step", fontsize=9)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _palette(var: Variable | None) -> dict[int, Any]:
    if var is None:
        return {}
    import matplotlib

    values = var.domain.values
    cmap = matplotlib.colormaps["tab10" if len(values) <= 10 else "tab20"]
    colours = {}
    for k, name in enumerate(values):
        colours[var.domain.lo + k] = PALE if name.lower() in NOTHING else cmap(k % cmap.N)
    return colours


def _marker_map(var: Variable | None) -> dict[int, str]:
    """Value -> marker; a Boolean shows a dot when true and nothing when false."""
    if var is None:
        return {}
    if var.domain.sort == BOOL:
        return {1: "o"}
    shapes: dict[int, str] = {}
    for k, name in enumerate(var.domain.values):
        if name.lower() not in NOTHING:
            shapes[var.domain.lo + k] = MARKERS[len(shapes) % len(MARKERS)]
    return shapes


def _legend(fig: Figure, ax, trace: Trace, layout: Layout) -> None:
    handles: list[Artist] = []
    if layout.colour is not None:
        colours = _palette(layout.colour)
        used = _used_values(trace, layout.colour)
        handles += [
            Patch(
                facecolor=colours[v], label=f"{layout.colour.name} = {layout.colour.domain.show(v)}"
            )
            for v in used
        ]
    if layout.marker is not None:
        markers = _marker_map(layout.marker)
        used = [v for v in _used_values(trace, layout.marker) if v in markers]
        handles += [
            Line2D(
                [],
                [],
                ls="",
                marker=markers[v],
                mfc="white",
                mec="black",
                ms=8,
                label=f"{layout.marker.name} = {layout.marker.domain.show(v)}",
            )
            for v in used
        ]
    handles.append(
        Patch(facecolor="white", edgecolor=CHANGED, lw=2.4, label="changed at this step")
    )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )


def _used_values(trace: Trace, var: Variable) -> list[int]:
    slots = [var.slot(i) for i in var.indices()]
    return sorted({s.state[k] for s in trace.steps for k in slots})


# --- files ----------------------------------------------------------------------------------------

_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save_figure(fig: Figure, path: str | Path | io.BytesIO, fmt: str, dpi: int = 110) -> None:
    """Save with fixed metadata (and SVG ids), so that the same picture gives the same bytes."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "mrkcheck", "svg.fonttype": "path"}):
        fig.savefig(path, format=fmt, dpi=dpi, metadata=_METADATA.get(fmt, {}))


def picture_bytes(trace: Trace, fmt: str = "png", **layout: Any) -> bytes:
    buffer = io.BytesIO()
    save_figure(trace_figure(trace, **layout), buffer, fmt)
    return buffer.getvalue()


def write_picture(trace: Trace, path: str | Path, fmt: str | None = None, **layout: Any) -> None:
    fmt = fmt or Path(path).suffix.lstrip(".").lower() or "png"
    Path(path).write_bytes(picture_bytes(trace, fmt, **layout))
