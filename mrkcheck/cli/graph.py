"""``mrkcheck graph [MODEL] [model options] [--by VAR,...] -o FILE.dot|.graphml|.png|.svg``: the
state graph, or its quotient by some variables (one node per value of them).

A graph too big to lay out is refused early: the search stops as soon as it passes the bound
(``--max-states``), so a large instance is refused in a moment, not after minutes of exploring;
the message offers the quotient, which Graphviz lays out in seconds."""

from __future__ import annotations

import argparse
from typing import Any

from mrkcheck.check.result import EXIT_OK
from mrkcheck.cli.common import add_model_options, build_model
from mrkcheck.errors import UsageError, output_file, positive_int, unknown_name

QUOTIENT_STATES = 200_000  # states explored for a quotient: seconds of search, then refused


def add_parser(subparsers: Any) -> None:
    graph = subparsers.add_parser(
        "graph",
        help="export the state graph, or its quotient by some variables (DOT, GraphML, picture)",
    )
    add_model_options(graph)
    graph.add_argument(
        "-o", "--output", required=True, type=output_file, help="FILE.dot, .graphml, .png or .svg"
    )
    graph.add_argument(
        "--by",
        metavar="VAR,...",
        help="draw the quotient: one node per value of these variables (kms: --by key_state), "
        "edges labelled by the actions that change them",
    )
    graph.add_argument(
        "--max-states",
        type=positive_int,
        help="refuse a graph with more states (default 300, what dot lays out in seconds; "
        f"with --by: {QUOTIENT_STATES:,} states explored, 300 nodes drawn)",
    )
    graph.set_defaults(run=cmd_graph)


def cmd_graph(args: argparse.Namespace) -> int:
    # lazily: networkx takes longer to import than most commands run
    from mrkcheck.traces.graph import (
        MAX_LAID_OUT,
        GraphTooLarge,
        quotient_graph,
        state_graph,
        write_graph,
    )

    model, _ = build_model(args)
    variables = [v.strip() for v in args.by.split(",") if v.strip()] if args.by else []
    known = [v.name for v in model.schema.variables]
    for name in variables:
        if name not in known:
            raise UsageError(
                unknown_name("variable", name, known, f"variables: {', '.join(known)}")
            )
    try:
        if variables:
            graph = quotient_graph(model, variables, args.max_states or QUOTIENT_STATES)
        else:
            graph = state_graph(model, max_states=args.max_states or MAX_LAID_OUT)
    except GraphTooLarge as exc:
        raise UsageError(f"{exc}: {_smaller(args, variables)}") from None
    if variables and graph.number_of_nodes() > MAX_LAID_OUT:
        raise UsageError(
            f"the quotient by {','.join(variables)} has {graph.number_of_nodes():,} nodes, too "
            f"many to lay out (at most {MAX_LAID_OUT}): keep fewer variables or fewer Regions"
        )
    try:
        write_graph(graph, model.schema, args.output)
    except (GraphTooLarge, ValueError) as exc:
        raise UsageError(str(exc)) from None
    kind = f"abstract states (quotient by {', '.join(variables)})" if variables else "states"
    print(
        f"wrote {args.output}: {graph.number_of_nodes()} {kind}, {graph.number_of_edges()} "
        f"edges, {graph.graph['transitions']} transitions"
    )
    return EXIT_OK


def _smaller(args: argparse.Namespace, variables: list[str]) -> str:
    """What to do instead: the quotient, a smaller instance, or a larger bound."""
    if variables:
        return "choose a smaller instance, or raise --max-states"
    return (
        "too many to lay out with Graphviz; draw the quotient by some variables "
        f"(mrkcheck graph {args.model} --by key_state ...: one node per key-state combination), "
        "choose a smaller instance, or raise --max-states (DOT and GraphML of any size)"
    )
