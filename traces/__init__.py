"""Traces: ITF files, replay, viewers and the state graph (import what you need; nothing heavy
is imported here, because ``mrkcheck`` loads ``mrkcheck.cli.trace`` on every command).
The development tools that regenerate the examples and drive a browser live in ``tools/``.

- :mod:`mrkcheck.traces.itf`: write and read ITF JSON (``write_itf``, ``read_itf``, ``TraceFormatError``)
- :mod:`mrkcheck.traces.values`: the ITF value codec (``encode``, ``decode``)
- :mod:`mrkcheck.traces.foreign`: any ITF file without its model (``generic_trace``)
- :mod:`mrkcheck.traces.replay`: is a trace a run of the model? (``replay``)
- :mod:`mrkcheck.traces.picture`: the matplotlib picture (``trace_figure``, ``write_picture``)
- :mod:`mrkcheck.traces.html`: the self-contained HTML page (``trace_html``, ``result_html``)
- :mod:`mrkcheck.traces.graph`: the state graph (``state_graph``, ``to_dot``, ``graph_figure``)
- :mod:`mrkcheck.traces.sample`: random runs (``random_run``)

Importing this package gives traces and results their notebook display (``Trace._repr_html_``
asks the table ``mrkcheck.check.result.NOTEBOOK_VIEWS``, which :mod:`.html` fills).
"""

from mrkcheck.traces import html as _html  # noqa: F401 - fills the notebook views
