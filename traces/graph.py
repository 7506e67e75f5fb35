"""The explored state graph: to networkx, to DOT (as TLC's ``-dump dot``), to GraphML, as a picture.

The engine's breadth-first search records every edge when asked (``explore_graph``); this module
turns that record into networkx. States are concrete (no symmetry reduction): a picture of the
graph should show what the model does, not a quotient.

Nodes are numbered in breadth-first discovery order (0 is the first initial state), which is
deterministic, so the same model always gives the same files. An edge ``u -> v`` carries every
action instance that leads from ``u`` to ``v`` (``actions``) and their labels joined (``label``):
a DiGraph has one edge per pair, like TLC's ``strict digraph``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from mrkcheck.check.compile import compile_model
from mrkcheck.check.explicit import explore_graph
from mrkcheck.lang.model import BOOL, Model, Schema, State
from mrkcheck.traces.itf import is_numeric

MAX_DRAWN = 2000  # a picture of more states is a grey smear; export DOT or GraphML instead
# Graphviz's dot lays out a few hundred nodes with TLC's multi-line labels in seconds; past that
# it takes minutes, then hours (1,090 states of KMS on 2 Regions: not done after 10 minutes).
MAX_LAID_OUT = 300


class GraphTooLarge(ValueError):
    """More states than the caller allowed (a graph for a picture must stay small)."""


def state_graph(model: Model, max_states: int | None = None) -> nx.DiGraph:
    """Every reachable state and every transition of ``model`` as a networkx ``DiGraph``.

    Node attributes: each variable's decoded value (scalars as names, indexed variables as
    ``{index tuple: name}``), plus ``state`` (the raw tuple), ``initial``, ``depth`` (BFS level)
    and ``violates`` (names of invariants false there). Edge attributes: ``actions`` (tuple of
    instance labels) and ``label``. Graph attributes: ``model``, ``options`` and ``transitions``,
    the number of (state, action instance, successor) triples.
    """
    explored = explore_graph(model, max_states)
    if not explored.complete:
        raise GraphTooLarge(f"{model.name} has more than {max_states} states")
    violated = compile_model(model).violated
    graph: nx.DiGraph[int] = nx.DiGraph(model=model.name, options=dict(model.options))
    for node, (state, depth) in enumerate(zip(explored.states, explored.depths(), strict=True)):
        graph.add_node(node, **_node_attributes(model, violated(state), state, depth))
    labels = [inst.label for inst in model.instances]
    for node in range(len(explored.states)):
        for succ, index in explored.edges(node):
            _add_edge(graph, node, succ, labels[index])
    graph.graph["transitions"] = len(explored.target)
    return graph


def quotient_graph(
    model: Model, variables: Sequence[str], max_states: int | None = None
) -> nx.DiGraph:
    """The state graph seen through ``variables`` only: one node per distinct value of them
    (an abstract state standing for every reachable state that has it), an edge ``u -> v`` when
    some transition leads from a state of ``u`` to a state of ``v``, labelled by the actions that
    do (names, not instances). Transitions that keep the abstract state are left out: they are
    what the picture abstracts away. Nodes carry the decoded ``variables``, ``states`` (how many
    concrete states), ``initial``, ``depth`` (the least BFS level) and ``violates``."""
    explored = explore_graph(model, max_states)
    if not explored.complete:
        raise GraphTooLarge(f"{model.name} has more than {max_states} states")
    slots = [slot for var, _, slot in model.schema.slots() if var.name in variables]
    violated = compile_model(model).violated
    graph: nx.DiGraph[int] = nx.DiGraph(
        model=model.name, options=dict(model.options), quotient=tuple(variables)
    )
    node_of: dict[State, int] = {}
    numbers = []
    for state, depth in zip(explored.states, explored.depths(), strict=True):
        key = tuple(state[i] for i in slots)
        if key not in node_of:
            node_of[key] = len(node_of)
            decoded = model.schema.decode(state)
            graph.add_node(
                node_of[key],
                **{name: decoded[name] for name in variables},
                slots=dict(zip(slots, key, strict=True)),
                states=0,
                depth=depth,
                initial=False,
                violates=(),
            )
        data = graph.nodes[node_of[key]]
        data["states"] += 1
        data["initial"] |= depth == 0
        names = [model.properties[p].name for p in violated(state) or ()]
        data["violates"] = tuple(dict.fromkeys((*data["violates"], *names)))
        numbers.append(node_of[key])
    actions = [inst.action for inst in model.instances]
    for n in range(len(explored.states)):
        for succ, index in explored.edges(n):
            if numbers[n] != numbers[succ]:
                _add_edge(graph, numbers[n], numbers[succ], actions[index])
    graph.graph["transitions"] = len(explored.target)
    return graph


def _node_attributes(model: Model, bad: list[int] | None, state: State, depth: int) -> dict:
    attrs: dict[str, Any] = dict(model.schema.decode(state))
    attrs.update(
        state=state,
        initial=depth == 0,
        depth=depth,
        violates=tuple(model.properties[p].name for p in bad or ()),
    )
    return attrs


def _add_edge(graph: nx.DiGraph, u: int, v: int, label: str) -> None:
    if graph.has_edge(u, v):
        data = graph.edges[u, v]
        if label in data["actions"] and "quotient" in graph.graph:
            return  # an abstract edge names each action once
        data["actions"] += (label,)
        data["label"] = ", ".join(data["actions"])
    else:
        graph.add_edge(u, v, actions=(label,), label=label)


# --- DOT ------------------------------------------------------------------------------------------


def tla_value(schema: Schema, name: str, value: Any) -> str:
    """A decoded value in TLA+ notation: TRUE, 3, "Enabled", [r1 |-> ..., r2 |-> ...]."""
    var = schema.variable(name)
    if not var.over:
        return _tla_scalar(var.domain, value)
    nested: dict = {}
    for index, item in value.items():
        level = nested
        for key in index[:-1]:
            level = level.setdefault(key, {})
        level[index[-1]] = _tla_scalar(var.domain, item)
    return _tla_function(nested)


def _tla_scalar(domain, text: str) -> str:
    if domain.sort == BOOL:
        return text.upper()
    return text if is_numeric(domain) else f'"{text}"'


def _tla_function(nested: dict) -> str:
    parts = [
        f"{key} |-> {_tla_function(item) if isinstance(item, dict) else item}"
        for key, item in nested.items()
    ]
    return "[" + ", ".join(parts) + "]"


def state_label(schema: Schema, attrs: dict[str, Any]) -> str:
    """TLC's node label: one ``/\\ var = value`` line per variable (of an abstract state: per
    variable kept, then how many states it stands for)."""
    lines = [
        f"/\\ {v.name} = {tla_value(schema, v.name, attrs[v.name])}"
        for v in schema.variables
        if v.name in attrs
    ]
    if "states" in attrs:
        lines.append(f"({attrs['states']} states)")
    return "\n".join(lines)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: nx.DiGraph, schema: Schema) -> str:
    """The graph in the layout of TLC's ``-dump dot,actionlabels`` file (``strict digraph
    DiskGraph``; initial states filled; edges labelled by action), deterministic."""
    lines = [
        "strict digraph DiskGraph {",
        "nodesep=0.35;",
        "subgraph cluster_graph {",
        'color="white";',
    ]
    for node, attrs in graph.nodes(data=True):
        style = ",style = filled" if attrs["initial"] else ""
        lines.append(f"{node} [label={_dot_string(state_label(schema, attrs))}{style}]")
        for _, succ, data in graph.out_edges(node, data=True):
            lines.append(
                f"{node} -> {succ} [label={_dot_string(data['label'])},"
                'color="black",fontcolor="black"];'
            )
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


# --- GraphML --------------------------------------------------------------------------------------


def flat_graph(graph: nx.DiGraph, schema: Schema) -> nx.DiGraph:
    """A copy with only scalar attributes (one per state slot), as GraphML requires."""
    flat: nx.DiGraph[int] = nx.DiGraph()
    flat.graph.update(model=graph.graph.get("model", ""), transitions=graph.graph["transitions"])
    for node, attrs in graph.nodes(data=True):
        values: dict[str, Any] = {}
        for var, idx, slot in schema.slots():
            if var.name in attrs:  # an abstract state keeps some variables (``slots``)
                value = attrs["slots"][slot] if "slots" in attrs else attrs["state"][slot]
                values[var[idx].label] = var.domain.show(value)
        values.update(
            initial=attrs["initial"],
            depth=attrs["depth"],
            violates=", ".join(attrs["violates"]),
            label=state_label(schema, attrs),
        )
        flat.add_node(node, **values)
    for u, v, data in graph.edges(data=True):
        flat.add_edge(u, v, label=data["label"], count=len(data["actions"]))
    return flat


def write_graphml(graph: nx.DiGraph, schema: Schema, path: str | Path) -> None:
    nx.write_graphml(flat_graph(graph, schema), str(path))


# --- picture --------------------------------------------------------------------------------------


def graph_figure(graph: nx.DiGraph, title: str = "", labels: bool | None = None):
    """A matplotlib drawing (for small graphs): BFS levels left to right, initial states blue,
    states violating an invariant red; edge labels only when there are few edges."""
    import matplotlib.pyplot as plt

    n = graph.number_of_nodes()
    fig, ax = plt.subplots(figsize=(min(4 + n**0.5 * 0.8, 30), min(3 + n**0.5 * 0.45, 20)))
    pos = nx.multipartite_layout(graph, subset_key="depth")
    colours = [_node_colour(a) for _, a in graph.nodes(data=True)]
    size = max(30, 600 - 2 * n)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colours, node_size=size, linewidths=0.5)
    plain = [(u, v) for u, v in graph.edges if u != v]
    nx.draw_networkx_edges(graph, pos, ax=ax, edgelist=plain, node_size=size, alpha=0.45, width=0.7)
    if n <= 60:
        nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7)
    if labels or (labels is None and len(plain) <= 40):
        edge_labels = {(u, v): graph.edges[u, v]["label"] for u, v in plain}
        nx.draw_networkx_edge_labels(graph, pos, edge_labels, ax=ax, font_size=6)
    ax.set_title(title or _graph_title(graph))
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def _node_colour(attrs: dict[str, Any]) -> str:
    if attrs["violates"]:
        return "#d62728"
    return "#1f77b4" if attrs["initial"] else "#bbbbbb"


def _graph_title(graph: nx.DiGraph) -> str:
    options = " ".join(f"{k}={v}" for k, v in sorted(graph.graph.get("options", {}).items()))
    return (
        f"{graph.graph.get('model', '')} {options}: {graph.number_of_nodes()} states, "
        f"{graph.number_of_edges()} edges ({graph.graph['transitions']} transitions)"
    )


def write_graph(graph: nx.DiGraph, schema: Schema, path: str | Path) -> str:
    """Write by extension: .dot, .graphml, .png, .svg, .pdf. Returns the format used."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("dot", "gv"):
        Path(path).write_text(to_dot(graph, schema), encoding="utf-8")
    elif suffix == "graphml":
        write_graphml(graph, schema, path)
    elif suffix in ("png", "svg", "pdf"):
        if graph.number_of_nodes() > MAX_DRAWN:
            raise GraphTooLarge(
                f"{graph.number_of_nodes()} states are too many to draw (at most {MAX_DRAWN}): "
                "write .dot or .graphml"
            )
        fig = graph_figure(graph)
        fig.savefig(path, dpi=110, metadata=_stable_metadata(suffix))
        _close(fig)
    else:
        raise ValueError(f"unknown graph format .{suffix}: use .dot, .graphml, .png, .svg or .pdf")
    return suffix


def _stable_metadata(fmt: str) -> dict[str, Any]:
    """Metadata that keeps image bytes stable (no dates, no version strings)."""
    if fmt == "svg":
        return {"Date": None, "Creator": None}
    if fmt == "pdf":
        return {"CreationDate": None, "Creator": None, "Producer": None}
    return {"Software": None}


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def edge_triples(graph: nx.DiGraph) -> Iterable[tuple[int, str, int]]:
    """Every (state, action instance, successor) of the graph."""
    for u, v, data in graph.edges(data=True):
        for label in data["actions"]:
            yield u, label, v
