"""``mrkcheck graph [MODEL] [model options] -o FILE.dot|.graphml|.png|.svg``: the state graph."""

from __future__ import annotations

import argparse
from typing import Any

from mrkcheck.check.result import EXIT_OK
from mrkcheck.cli.common import add_model_options, build_model
from mrkcheck.errors import UsageError, output_file


def add_parser(subparsers: Any) -> None:
    graph = subparsers.add_parser("graph", help="export the state graph (DOT, GraphML, picture)")
    add_model_options(graph)
    graph.add_argument(
        "-o", "--output", required=True, type=output_file, help="FILE.dot, .graphml, .png or .svg"
    )
    graph.add_argument("--max-states", type=int, default=200_000, help="refuse larger graphs")
    graph.set_defaults(run=cmd_graph)


def cmd_graph(args: argparse.Namespace) -> int:
    # lazily: networkx takes longer to import than most commands run
    from mrkcheck.traces.graph import GraphTooLarge, state_graph, write_graph

    model, _ = build_model(args)
    try:
        graph = state_graph(model, max_states=args.max_states)
    except GraphTooLarge as exc:
        raise UsageError(f"{exc}: raise --max-states or choose a smaller instance") from None
    try:
        write_graph(graph, model.schema, args.output)
    except (GraphTooLarge, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(
        f"wrote {args.output}: {graph.number_of_nodes()} states, {graph.number_of_edges()} "
        f"edges, {graph.graph['transitions']} transitions"
    )
    return EXIT_OK
