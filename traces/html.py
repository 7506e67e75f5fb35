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
from dataclasses import dataclass
from html import escape

from mrkcheck.check.result import CTI_NOTE, NOTEBOOK_VIEWS, CheckResult, Trace
from mrkcheck.lang.display import state_tables
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
.mrk td.witness{outline:3px solid #d62728;outline-offset:-3px}
.mrk ol.timeline li.loop-start{border-left:4px solid #1f77b4}
.mrk ol.timeline li.loop-end::after{content:" \\21BA"}
.mrk .lasso{background:#eef4fb;border:1px solid #1f77b4;border-radius:6px;padding:.4em .8em;margin:.5em 0}
.mrk .lasso ul{margin:.2em 0;padding-left:1.2em;font-size:13px}
.mrk .cti{background:#fff4d6;border:1px solid #c98f00;border-radius:6px;padding:.4em .8em;margin:.5em 0}
.mrk table.eval td{font-weight:600}
.mrk.changed-only tr.steady{display:none}
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
  var toggle = root.querySelector('input.changed-only');
  if (toggle) {
    toggle.onchange = function () { root.classList.toggle('changed-only', toggle.checked); };
    toggle.onchange();
  }
  (global ? document : root).addEventListener('keydown', function (e) {
    var keys = {ArrowRight: current + 1, ArrowDown: current + 1, ArrowLeft: current - 1,
                ArrowUp: current - 1, Home: 0, End: last};
    if (e.key in keys && !e.altKey && !e.ctrlKey && !e.metaKey) { show(keys[e.key]); e.preventDefault(); }
  });
  show(initial());
})(document.getElementById('%(id)s'), %(global)s);
"""


@dataclass(frozen=True)
class Extras:
    """What the viewer adds to a trace when the model is known: why a lasso is a fair
    counterexample (``lasso``), the slots that make the property false in the last state
    (``witnesses``), expressions evaluated along the trace (``evals``: label, one value per
    step), and whether rows that never change start hidden (a checkbox toggles them)."""

    lasso: tuple[str, ...] = ()
    witnesses: frozenset[int] = frozenset()
    evals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    changed_only: bool = False
    where: str = "in the last state"  # or "across the last step", for an action property


def trace_html(
    trace: Trace,
    standalone: bool = True,
    picture: bool = True,
    rule: str = "",
    extras: Extras | None = None,
) -> str:
    """The page (``standalone``) or a notebook fragment for ``trace``; ``rule`` is the violated
    property's documented rule, shown under the property when given."""
    digest = hashlib.blake2b(dumps(trace).encode(), digest_size=6).hexdigest()
    ident = f"mrk-{digest}" if standalone else f"mrk-{digest}-{next(_counter)}"
    body = _body(trace, ident, picture, rule, extras or Extras())
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


def _body(trace: Trace, ident: str, picture: bool, rule: str, extras: Extras) -> str:
    parts = [
        f'<div class="mrk" id="{ident}" tabindex="0">',
        f"<h1>{escape(_title(trace))}</h1>",
        f'<p class="options">{escape(_options(trace))}</p>',
        _property_banner(trace, rule),
    ]
    if trace.cti:
        parts.append(f'<div class="cti">Step 0 is {escape(CTI_NOTE)}.</div>')
    if extras.lasso:
        parts.append(_lasso(extras.lasso))
    parts += [_controls(extras.changed_only), _timeline(trace)]
    parts += [_step_section(trace, i, extras) for i in range(len(trace.steps))]
    if picture:
        parts.append(_picture(trace, extras))
    parts.append(
        '<p class="hint">Keys: &larr; &rarr; step, Home/End jump; ?step=N links a step.</p>'
    )
    parts.append("</div>")
    return "\n".join(parts)


def _lasso(lines: tuple[str, ...]) -> str:
    """Why a lasso is a counterexample: indented lines (one per environment step) nest."""
    items: list[str] = []
    nested: list[str] = []
    for line in lines:
        if line.startswith("  "):
            nested.append(f"<li>{escape(line.strip())}</li>")
            continue
        if nested:
            items[-1] = items[-1][:-5] + f"<ul>{''.join(nested)}</ul></li>"
            nested = []
        items.append(f"<li>{escape(line)}</li>")
    if nested:
        items[-1] = items[-1][:-5] + f"<ul>{''.join(nested)}</ul></li>"
    return f'<div class="lasso"><b>Why this is a counterexample</b><ul>{"".join(items)}</ul></div>'


def _property_banner(trace: Trace, rule: str) -> str:
    if trace.property_name:
        where = f"after {len(trace)} steps (in step {len(trace.steps) - 1})."
        if trace.loop is not None:
            last = len(trace.steps) - 1
            how = f"steps {trace.loop}-{last}" if trace.loop < last else f"step {last} stutters"
            where = f"by a run that loops forever ({how})."
        elif trace.cti:
            where = f"by a step from an arbitrary state (in step {len(trace.steps) - 1})."
        text = (
            f'Property <b class="property-name">{escape(trace.property_name)}</b> is violated '
            + where
        )
        if rule:
            text += f'<br><span class="rule">Rule: {escape(rule)}</span>'
        return f'<div class="property violated">{text}</div>'
    loop = f"; it loops back to step {trace.loop}" if trace.loop is not None else ""
    note = f'<br><span class="rule">{escape(rule)}</span>' if rule else ""  # a conform divergence
    return f'<div class="property run">A run of {len(trace)} steps{loop}.{note}</div>'


def _controls(changed_only: bool) -> str:
    buttons = "".join(
        f'<button type="button" class="{cls}" title="{title}">{text}</button>'
        for cls, title, text in (
            ("first", "first step (Home)", "&laquo; First"),
            ("prev", "previous step (&larr;)", "&lsaquo; Prev"),
            ("next", "next step (&rarr;)", "Next &rsaquo;"),
            ("last", "last step (End)", "Last &raquo;"),
        )
    )
    checked = " checked" if changed_only else ""
    toggle = (
        f'<label class="hint"><input type="checkbox" class="changed-only"{checked}> '
        "hide rows that never change</label>"
    )
    return f'<div class="controls">{buttons}<span class="position">All steps</span>{toggle}</div>'


def _timeline(trace: Trace) -> str:
    items = []
    last = len(trace.steps) - 1
    for i in range(len(trace.steps)):
        classes = []
        if trace.property_name and i == last and trace.loop is None:
            classes.append("last-violating")
        if trace.loop is not None and i == trace.loop:
            classes.append("loop-start")
        if trace.loop is not None and i == last:
            classes.append("loop-end")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        items.append(f'<li data-step="{i}"{cls}>{i}. {escape(trace.label(i))}</li>')
    return '<ol class="timeline">' + "".join(items) + "</ol>"


def _picture(trace: Trace, extras: Extras) -> str:
    from mrkcheck.traces.picture import picture_bytes  # lazily: matplotlib is slow to import

    png = picture_bytes(trace, "png", witnesses=extras.witnesses)
    data = base64.b64encode(png).decode("ascii")
    return (
        '<details class="picture" open><summary>The whole trace</summary>'
        f'<img class="picture" alt="the trace as a picture" src="data:image/png;base64,{data}">'
        "</details>"
    )


def _step_section(trace: Trace, i: int, extras: Extras) -> str:
    changes = trace.changes(i)
    last = i == len(trace.steps) - 1
    parts = [
        f'<section class="step" data-step="{i}">',
        f'<h2>Step {i}: <span class="action">{escape(trace.label(i))}</span></h2>',
    ]
    if trace.loop is not None and i == trace.loop:
        parts.append(f'<p class="loop">The loop starts here (step {i}).</p>')
    if trace.property_name and last and trace.loop is None:
        parts.append(
            f'<p class="violation">{escape(trace.property_name)} is false '
            + ("in this state" if extras.where == "in the last state" else "across this step")
            + ("; the outlined cells make it false." if extras.witnesses else ".")
            + "</p>"
        )
    if trace.loop is not None and last:
        back = (
            f"back to step {trace.loop}: steps {trace.loop}-{i} repeat forever"
            if trace.loop < i
            else "it stutters here forever"
        )
        parts.append(f'<p class="loop">After this step the run goes {back}.</p>')
    if changes:
        items = "".join(
            f"<li>{escape(label)}: {escape(old)} &rarr; <b>{escape(new)}</b></li>"
            for label, old, new in changes
        )
        parts.append(f'<ul class="changes">{items}</ul>')
    elif i:
        parts.append('<p class="hint">Nothing changed (a stuttering step).</p>')
    state = trace.steps[i].state
    before = trace.steps[i - 1].state if i else state
    witness = extras.witnesses if last else frozenset()
    moving = _moving(trace) | extras.witnesses
    tables = state_tables(
        trace.schema,
        state,
        before,
        mark=lambda slot: "witness" if slot in witness else "",
        table_class="state",
        row_class=lambda slots: "" if moving.intersection(slots) else "steady",
    )
    parts.append(tables)
    if extras.evals:
        rows = "".join(
            f"<tr><th>{escape(label)}</th><td>{escape(values[i])}</td></tr>"
            for label, values in extras.evals
        )
        parts.append(
            f'<table class="eval"><tr><th>expression</th><th>value</th></tr>{rows}</table>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def _moving(trace: Trace) -> set[int]:
    """Slots whose value changes somewhere in the trace."""
    first = trace.steps[0].state
    return {k for k in range(len(first)) if any(s.state[k] != first[k] for s in trace.steps)}


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
