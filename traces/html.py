"""The counterexample as a self-contained HTML page: step through it, see what changed.

One file, no network: the CSS, the script and the picture (a PNG data URI) are inline, so the page
can be attached to a ticket or opened from a CI artifact. Every state is rendered on the server
side as tables (variables grouped by their index universes: rows are index tuples, columns are
variables), with changed cells highlighted and the old value in a tooltip; the script only shows
one step at a time. Without script every step is shown, one under the other, so nothing is lost.

Navigation: the buttons, the timeline, the arrow keys (Home/End for the ends), and ``?step=N``
or ``#step-N`` in the address, which also makes any step directly linkable.

The same body, without ``<html>`` and with ids made unique, is the notebook display
(``standalone=False``), used by ``Trace._repr_html_``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from html import escape
from typing import Any

from mrkcheck.check.result import NOTEBOOK_VIEWS, CheckResult, Trace
from mrkcheck.lang.model import Variable
from mrkcheck.traces.itf import dumps

_counter = itertools.count()

CSS = """
.mrk{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;max-width:1200px}
.mrk h1{font-size:20px;margin:.2em 0}
.mrk .property{padding:.5em .8em;border-radius:6px;margin:.5em 0;font-weight:600}
.mrk .property.violated{background:#fde0dd;border:1px solid #d62728;color:#8b0000}
.mrk .property.run{background:#e8f4ea;border:1px solid #2ca02c}
.mrk .controls{display:flex;gap:.4em;align-items:center;margin:.6em 0;flex-wrap:wrap}
.mrk button{font:inherit;padding:.25em .8em;border:1px solid #888;border-radius:5px;background:#fff;cursor:pointer}
.mrk button:disabled{opacity:.4;cursor:default}
.mrk .position{font-weight:600;margin-left:.6em}
.mrk ol.timeline{display:flex;flex-wrap:wrap;gap:.3em;list-style:none;padding:0;margin:.4em 0 .8em}
.mrk ol.timeline li{border:1px solid #ccc;border-radius:4px;padding:.1em .45em;font-size:12px;cursor:pointer;background:#fafafa}
.mrk ol.timeline li.current{background:#1f77b4;color:#fff;border-color:#1f77b4}
.mrk ol.timeline li.last-violating{border-color:#d62728}
.mrk section.step{border-top:1px solid #ddd;padding:.4em 0}
.mrk.js section.step{display:none}
.mrk.js section.step.current{display:block}
.mrk h2{font-size:16px;margin:.3em 0}
.mrk h2 .action{font-family:ui-monospace,Menlo,Consolas,monospace}
.mrk ul.changes{margin:.2em 0 .6em;padding-left:1.2em;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.mrk .violation{color:#8b0000;font-weight:600}
.mrk table{border-collapse:collapse;margin:.3em 1.2em .8em 0;display:inline-table;vertical-align:top}
.mrk th,.mrk td{border:1px solid #d0d0d0;padding:.2em .6em;text-align:left;font-size:13px}
.mrk th{background:#f2f2f2}
.mrk td{font-family:ui-monospace,Menlo,Consolas,monospace}
.mrk td.changed{background:#ffe27a;font-weight:700;outline:2px solid #111;outline-offset:-2px}
.mrk img.picture{max-width:100%;border:1px solid #eee;margin:.4em 0}
.mrk .hint{color:#666;font-size:12px}
.mrk p.options{color:#555;font-size:12px;margin:0 0 .4em;font-family:ui-monospace,Menlo,Consolas,monospace}
"""

SCRIPT = """
(function (root, global) {
  var steps = root.querySelectorAll('section.step');
  var items = root.querySelectorAll('ol.timeline li');
  var last = steps.length - 1, current = 0;
  function show(i) {
    current = Math.max(0, Math.min(last, i));
    for (var k = 0; k <= last; k++) {
      steps[k].classList.toggle('current', k === current);
      items[k].classList.toggle('current', k === current);
      items[k].setAttribute('aria-current', k === current ? 'step' : 'false');
    }
    root.dataset.step = String(current);
    root.querySelector('.position').textContent = 'Step ' + current + ' of ' + last;
    root.querySelector('button.first').disabled = root.querySelector('button.prev').disabled = current === 0;
    root.querySelector('button.last').disabled = root.querySelector('button.next').disabled = current === last;
    if (global && history.replaceState) history.replaceState(null, '', '#step-' + current);
  }
  function initial() {
    if (!global) return 0;
    var q = new URLSearchParams(location.search).get('step');
    var h = /^#step-(\\d+)$/.exec(location.hash);
    return q !== null ? parseInt(q, 10) || 0 : h ? parseInt(h[1], 10) : 0;
  }
  root.classList.add('js');
  root.querySelector('button.first').onclick = function () { show(0); };
  root.querySelector('button.prev').onclick = function () { show(current - 1); };
  root.querySelector('button.next').onclick = function () { show(current + 1); };
  root.querySelector('button.last').onclick = function () { show(last); };
  items.forEach(function (li, k) { li.onclick = function () { show(k); }; });
  (global ? document : root).addEventListener('keydown', function (e) {
    var keys = {ArrowRight: current + 1, ArrowDown: current + 1, ArrowLeft: current - 1,
                ArrowUp: current - 1, Home: 0, End: last};
    if (e.key in keys && !e.altKey && !e.ctrlKey && !e.metaKey) { show(keys[e.key]); e.preventDefault(); }
  });
  show(initial());
})(document.getElementById('%(id)s'), %(global)s);
"""


def trace_html(trace: Trace, standalone: bool = True, picture: bool = True, rule: str = "") -> str:
    """The page (``standalone``) or a notebook fragment for ``trace``; ``rule`` is the violated
    property's documented rule, shown under the property when given."""
    digest = hashlib.blake2b(dumps(trace).encode(), digest_size=6).hexdigest()
    ident = f"mrk-{digest}" if standalone else f"mrk-{digest}-{next(_counter)}"
    body = _body(trace, ident, picture, rule)
    script = SCRIPT % {"id": ident, "global": "true" if standalone else "false"}
    if not standalone:
        return f"<style>{CSS}</style>{body}<script>{script}</script>"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(_title(trace))}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n<script>{script}</script>\n</body>\n</html>\n"
    )


def _title(trace: Trace) -> str:
    from mrkcheck.traces.picture import model_name  # lazily: matplotlib is slow to import

    return model_name(trace) + (f": {trace.property_name}" if trace.property_name else "")


def _options(trace: Trace) -> str:
    from mrkcheck.traces.picture import options_text  # lazily: matplotlib is slow to import

    return options_text(trace)


def _body(trace: Trace, ident: str, picture: bool, rule: str) -> str:
    parts = [
        f'<div class="mrk" id="{ident}" tabindex="0">',
        f"<h1>{escape(_title(trace))}</h1>",
        f'<p class="options">{escape(_options(trace))}</p>',
        _property_banner(trace, rule),
        _controls(),
        _timeline(trace),
    ]
    parts += [_step_section(trace, i) for i in range(len(trace.steps))]
    if picture:
        parts.append(_picture(trace))
    parts.append(
        '<p class="hint">Keys: &larr; &rarr; step, Home/End jump; ?step=N links a step.</p>'
    )
    parts.append("</div>")
    return "\n".join(parts)


def _property_banner(trace: Trace, rule: str) -> str:
    if trace.property_name:
        text = (
            f'Property <b class="property-name">{escape(trace.property_name)}</b> is violated '
            f"after {len(trace)} steps (in step {len(trace.steps) - 1})."
        )
        if rule:
            text += f'<br><span class="rule">Rule: {escape(rule)}</span>'
        return f'<div class="property violated">{text}</div>'
    loop = f"; it loops back to step {trace.loop}" if trace.loop is not None else ""
    note = f'<br><span class="rule">{escape(rule)}</span>' if rule else ""  # a conform divergence
    return f'<div class="property run">A run of {len(trace)} steps{loop}.{note}</div>'


def _controls() -> str:
    buttons = "".join(
        f'<button type="button" class="{cls}" title="{title}">{text}</button>'
        for cls, title, text in (
            ("first", "first step (Home)", "&laquo; First"),
            ("prev", "previous step (&larr;)", "&lsaquo; Prev"),
            ("next", "next step (&rarr;)", "Next &rsaquo;"),
            ("last", "last step (End)", "Last &raquo;"),
        )
    )
    return f'<div class="controls">{buttons}<span class="position">All steps</span></div>'


def _timeline(trace: Trace) -> str:
    items = []
    for i, step in enumerate(trace.steps):
        cls = ' class="last-violating"' if trace.property_name and i == len(trace.steps) - 1 else ""
        items.append(f'<li data-step="{i}"{cls}>{i}. {escape(step.label)}</li>')
    return '<ol class="timeline">' + "".join(items) + "</ol>"


def _picture(trace: Trace) -> str:
    from mrkcheck.traces.picture import picture_bytes  # lazily: matplotlib is slow to import

    data = base64.b64encode(picture_bytes(trace, "png")).decode("ascii")
    return (
        '<details class="picture" open><summary>The whole trace</summary>'
        f'<img class="picture" alt="the trace as a picture" src="data:image/png;base64,{data}">'
        "</details>"
    )


def _step_section(trace: Trace, i: int) -> str:
    step = trace.steps[i]
    changes = trace.changes(i)
    last = i == len(trace.steps) - 1
    parts = [
        f'<section class="step" data-step="{i}">',
        f'<h2>Step {i}: <span class="action">{escape(step.label)}</span></h2>',
    ]
    if trace.property_name and last:
        parts.append(
            f'<p class="violation">{escape(trace.property_name)} is false in this state.</p>'
        )
    if trace.loop is not None and last:
        parts.append(f"<p>The run continues at step {trace.loop} (a loop).</p>")
    if changes:
        items = "".join(
            f"<li>{escape(label)}: {escape(old)} &rarr; <b>{escape(new)}</b></li>"
            for label, old, new in changes
        )
        parts.append(f'<ul class="changes">{items}</ul>')
    elif i:
        parts.append('<p class="hint">Nothing changed (a stuttering step).</p>')
    parts += [_table(trace, i, group) for group in _groups(trace)]
    parts.append("</section>")
    return "\n".join(parts)


def _groups(trace: Trace) -> list[list[Variable]]:
    """Variables with the same index universes share a table; scalars share one too."""
    groups: dict[tuple[str, ...], list[Variable]] = {}
    for var in trace.schema.variables:
        groups.setdefault(tuple(u.name for u in var.over), []).append(var)
    return list(groups.values())


def _table(trace: Trace, i: int, group: list[Variable]) -> str:
    state = trace.steps[i].state
    before = trace.steps[i - 1].state if i else state
    if not group[0].over:
        rows = [
            f"<tr><th>{escape(v.name)}</th>{_cell(v, v.first_slot, state, before)}</tr>"
            for v in group
        ]
        return (
            '<table class="scalars"><tr><th>variable</th><th>value</th></tr>'
            + "".join(rows)
            + "</table>"
        )
    universes = [u.name for u in group[0].over]
    head = "".join(f"<th>{escape(n)}</th>" for n in universes)
    head += "".join(f"<th>{escape(v.name)}</th>" for v in group)
    rows = []
    for index in group[0].indices():
        cells = "".join(f"<th>{escape(e)}</th>" for e in index)
        cells += "".join(_cell(v, v.slot(index), state, before) for v in group)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _cell(var: Variable, slot: int, state: Any, before: Any) -> str:
    value = escape(var.domain.show(state[slot]))
    if state[slot] == before[slot]:
        return f"<td>{value}</td>"
    old = escape(var.domain.show(before[slot]))
    return f'<td class="changed" title="was {old}" data-slot="{slot}">{value}</td>'


# --- CheckResult ----------------------------------------------------------------------------------


def result_html(result: CheckResult) -> str:
    """A notebook display of a check: statistics, a row per property, each counterexample."""
    s = result.stats
    rows = "".join(
        f"<tr><td>{escape(r.name)}</td><td>{escape(r.checked.kind)}</td>"
        f"<td>{escape(r.status)}</td><td>{'' if r.trace is None else len(r.trace)}</td></tr>"
        for r in result.properties
    )
    parts = [
        f'<style>{CSS}</style><div class="mrk">',
        f"<p><b>{escape(result.model)}</b>: {s.distinct:,} distinct states, {s.generated:,} "
        f"generated, depth {s.depth}, {s.seconds:.2f}s ({escape(result.stopped)})</p>",
        "<table><tr><th>property</th><th>kind</th><th>status</th><th>trace</th></tr>"
        f"{rows}</table></div>",
    ]
    for r in result.violations:
        if r.trace is not None:
            parts.append(f"<details open><summary>Counterexample for {escape(r.name)}</summary>")
            parts.append(trace_html(r.trace, standalone=False, rule=r.checked.rule))
            parts.append("</details>")
    if result.deadlock is not None:
        parts.append("<details><summary>Deadlock</summary>")
        parts.append(trace_html(result.deadlock, standalone=False))
        parts.append("</details>")
    return "\n".join(parts)


def _trace_png(trace: Trace) -> bytes:
    from mrkcheck.traces.picture import picture_bytes  # lazily: matplotlib is slow to import

    return picture_bytes(trace)


NOTEBOOK_VIEWS.update(
    trace_html=lambda trace: trace_html(trace, standalone=False),
    trace_png=_trace_png,
    result_html=result_html,
)
