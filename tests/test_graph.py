"""State graph export: networkx, DOT (TLC's -dump dot layout), GraphML, and the picture."""

import re

import networkx as nx
import pytest

from mrkcheck.check.explicit import check, reachable, successors
from mrkcheck.cli import main
from mrkcheck.examples.twophase import MUTANTS, build
from mrkcheck.traces.graph import edge_triples, state_graph, to_dot, write_graph

MODEL = build(3)


@pytest.fixture(scope="module")
def graph():
    return state_graph(MODEL)


def test_nodes_and_transitions_match_the_engine(graph):
    stats = check(MODEL).stats
    assert graph.number_of_nodes() == stats.distinct == 288
    # `generated` counts the initial state plus every successor computed (self-loops and
    # duplicates included): exactly the (state, action instance, successor) triples.
    triples = list(edge_triples(graph))
    assert len(triples) == graph.graph["transitions"] == stats.generated - len(MODEL.initial)
    assert len(set(triples)) == len(triples) == 1145
    # A DiGraph (like TLC's strict digraph) keeps one edge per (state, successor) pair:
    pairs = {(u, v) for u, _, v in triples}
    assert graph.number_of_edges() == len(pairs) == 886
    self_loops = sum(1 for u, v in pairs if u == v)
    assert self_loops == nx.number_of_selfloops(graph) > 0


def test_graph_agrees_with_the_engine_successors(graph):
    ids = {attrs["state"]: node for node, attrs in graph.nodes(data=True)}
    assert set(ids) == set(reachable(MODEL))
    for state, node in list(ids.items())[:60]:
        expected = sorted((label, ids[t]) for label, t in successors(MODEL, state))
        got = sorted((label, v) for u, label, v in edge_triples(graph) if u == node)
        assert got == expected


def test_node_attributes_are_the_decoded_state(graph):
    attrs = graph.nodes[0]
    assert attrs["initial"] and attrs["depth"] == 0
    assert attrs["tmState"] == "init"
    assert attrs["rmState"] == {("rm1",): "working", ("rm2",): "working", ("rm3",): "working"}
    assert max(a["depth"] for _, a in graph.nodes(data=True)) == 10  # 11 BFS levels
    assert graph.edges[0, 1]["label"] == "TMAbort()"


DOT_NODE = re.compile(r'^(-?\d+) \[label="((?:[^"\\]|\\.)*)"(,style = filled)?\]$')
DOT_EDGE = re.compile(
    r'^(-?\d+) -> (-?\d+) \[label="((?:[^"\\]|\\.)*)",color="black",fontcolor="black"\];$'
)


def test_dot_has_tlc_layout(graph):
    text = to_dot(graph, MODEL.schema)
    lines = text.splitlines()
    assert lines[:4] == [
        "strict digraph DiskGraph {",
        "nodesep=0.35;",
        "subgraph cluster_graph {",
        'color="white";',
    ]
    assert lines[-2:] == ["}", "}"]
    nodes = [m for m in map(DOT_NODE.match, lines) if m]
    edges = [m for m in map(DOT_EDGE.match, lines) if m]
    assert len(nodes) == 288 and len(edges) == 886
    assert len(nodes) + len(edges) + 6 == len(lines)  # nothing else
    assert sum(1 for m in nodes if m.group(3)) == 1  # the initial state is filled
    first = nodes[0].group(2)
    assert first.startswith('/\\\\ rmState = [rm1 |-> \\"working\\", rm2 |-> \\"working\\"')
    assert "\\n/\\\\ msgCommit = FALSE" in first
    assert to_dot(state_graph(MODEL), MODEL.schema) == text  # deterministic


def test_graphml_reads_back(tmp_path, graph):
    path = tmp_path / "g.graphml"
    write_graph(graph, MODEL.schema, path)
    back = nx.read_graphml(path)
    assert back.number_of_nodes() == 288 and back.number_of_edges() == 886
    assert back.nodes["0"]["rmState[rm1]"] == "working"
    assert back.nodes["0"]["initial"] is True


def test_violating_states_are_marked():
    g = state_graph(MUTANTS[0].build(rm=2))
    bad = [n for n, a in g.nodes(data=True) if "TCConsistent" in a["violates"]]
    assert bad and all(g.nodes[n]["depth"] >= 3 for n in bad)


def test_cli_writes_by_extension(tmp_path, capsys):
    for name in ("g.dot", "g.graphml", "g.png", "g.svg"):
        assert main(["graph", "twophase", "--rm", "2", "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 0
    out = capsys.readouterr().out
    assert "wrote" in out and "56 states" in out
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["graph", "twophase", "-o", str(tmp_path / "g.txt")]) == 150
    assert main(["graph", "twophase", "--max-states", "10", "-o", str(tmp_path / "g.dot")]) == 150
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "more than 10 states" in err[1]


def test_cli_dot_of_three_managers(tmp_path, capsys):
    path = tmp_path / "twophase.dot"
    assert main(["graph", "twophase", "--rm", "3", "-o", str(path)]) == 0
    assert "288 states, 886 edges, 1145 transitions" in capsys.readouterr().out
    assert path.read_text().count(" -> ") == 886
