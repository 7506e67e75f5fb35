"""Issue 17, a newcomer's first hour: the tool explains itself. Option help in plain words, exit
codes in ``--help``, "did you mean" for flags, the search stopping at the first violation (as
TLC does) unless ``--continue``, and ``mrkcheck graph`` refusing early and drawing a quotient
that Graphviz lays out."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mrkcheck.check.compile import compile_model
from mrkcheck.check.explicit import reachable
from mrkcheck.cli import main
from mrkcheck.model import kms
from mrkcheck.traces.graph import quotient_graph

ROOT = Path(__file__).resolve().parent.parent
# docs/semantics.md's source tags and footnotes: not words a newcomer knows.
ABBREVIATIONS = re.compile(
    r"\b(KS|MRK|DEL|IMP|MAN|UPD|REP|VIEW|ROT|IK|CT|DK|LS|fn\d+|X\d|P\(R\)D)\b"
)


def _out(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- list options -----------------------------------------------------------------------------


def test_list_options_speaks_plain_words(capsys):
    code, out, _ = _out(["list", "options"], capsys)
    assert code == 0
    assert not ABBREVIATIONS.findall(out), ABBREVIATIONS.findall(out)
    assert "docs/semantics.md" in out
    semantics = (ROOT / "docs" / "semantics.md").read_text()
    questions = re.findall(r"\bQ\d+\b", out)
    assert len(questions) >= 16
    # Every question id is a parenthesised pointer at the end of a help text, and exists there.
    assert len(re.findall(r"\(Q\d+\)", out)) == len(questions) - 1  # the header names "Q1, ..."
    for q in set(questions):
        assert f'<a id="{q}"></a>' in semantics, q
    assert "update_allowed_while_updating (default false)" in out  # as typed after -D


# --- help and flags ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "prove"])
def test_help_states_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 " in text
    for code in ("12", "15", "16", "130", "150"):
        assert re.search(rf"\b{code} ", text), code


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "kms", "--origins", "AWS_KMS"], "model options are set with -D origins=VALUE"),
        (["prove", "--max-version", "1"], "set with -D max_versions=VALUE"),
        (
            ["check", "--runs", "3"],
            "'--runs' is an option of mrkcheck conform, not of mrkcheck check",
        ),
        (["check", "--propery", "x"], "did you mean '--property'?"),
        (["graph", "--by", "key_stat", "-o", "x.dot"], "did you mean 'key_state'?"),
        (
            ["check", "kms", "-D", "role_error=UnsuportedOperationException"],
            "did you mean 'UnsupportedOperationException'?",
        ),
        (["check", "kms", "-D", "origins=EXTERNL"], "did you mean 'EXTERNAL'?"),
        (["check", "kms", "-D", "guard_order=documnted"], "did you mean 'documented'?"),
        (["check", "kms", "-D", "rotate_on_demand_row=EnableKeyRotaton"], "'EnableKeyRotation'?"),
    ],
)
def test_a_mistyped_name_gets_a_hint(argv, message, capsys):
    code, _, err = _out(argv, capsys)
    assert code == 150 and message in err and err.count("\n") == 1, err


# --- stop at the first violation ----------------------------------------------------------------


def test_check_stops_at_the_first_violation(capsys):
    code, out, _ = _out(["check", "--mutant", "promote_before_demote", "--json"], capsys)
    assert code == 12
    data = json.loads(out)
    assert data["stopped"] == "first_violation"
    statuses = {p["name"]: p["status"] for p in data["properties"]}
    assert statuses["one_primary_per_key_set"] == "violated"
    assert statuses["creating_completes"] == "unknown"  # liveness is not checked after it
    assert "unknown" in statuses.values()


def test_continue_finds_every_violated_property(capsys):
    argv = ["check", "--mutant", "promote_before_demote", "--no-liveness"]
    first = _out(argv, capsys)[1]
    every = _out([*argv, "--continue"], capsys)[1]
    assert first.count(" is violated.") < every.count(" is violated.")
    assert "--continue searches on" in first and "--continue" not in every


def test_a_documented_counterexample_does_not_stop_the_search(capsys):
    code, out, _ = _out(["check", "kms", "--no-liveness", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["stopped"] == "exhausted" and data["complete"]


def test_a_project_run_stops_at_the_first_violation_per_entry(tmp_path, monkeypatch, capsys):
    (tmp_path / "mrkcheck.toml").write_text(
        'model = "twophase"\n[instances.buggy]\nmutant = "early_commit"\nrm = 2\n'
    )
    monkeypatch.chdir(tmp_path)
    counts = {}
    for extra in ([], ["--continue"]):
        assert main(["check", "--json", "r.json", *extra]) == 12
        report = json.loads((tmp_path / "r.json").read_text())
        cases = report["runs"][0]["cases"]
        counts[bool(extra)] = sum(c["outcome"] == "failed" for c in cases)
    capsys.readouterr()
    assert counts == {False: 1, True: 2}


# --- graph ------------------------------------------------------------------------------------


def test_graph_refuses_a_large_instance_before_exploring_it(tmp_path, capsys):
    code, _, err = _out(["graph", "--regions", "4", "-o", str(tmp_path / "g.dot")], capsys)
    assert code == 150 and "more than 300 states" in err and "--by key_state" in err
    assert not (tmp_path / "g.dot").exists()


def test_the_quotient_by_key_state_matches_the_reachable_states():
    """A second computation: project every reachable state (explicit engine) on key_state, and
    every successor, and compare with the quotient's nodes and edges."""
    model = kms.build(regions=2)
    graph = quotient_graph(model, ["key_state"])
    slots = [slot for var, _, slot in model.schema.slots() if var.name == "key_state"]
    states = reachable(model)

    def key(state):
        return tuple(state[i] for i in slots)

    nodes = {tuple(d["slots"][i] for i in slots): n for n, d in graph.nodes(data=True)}
    assert set(nodes) == {key(s) for s in states} and len(nodes) == 43
    assert sum(d["states"] for _, d in graph.nodes(data=True)) == len(states) == 1_090
    edges: dict[tuple, set[str]] = {}
    step = compile_model(model).step
    for s in states:
        out: list = []
        step(s, out, [])
        for index, t in out:
            if key(s) != key(t):
                action = model.instances[index].action
                edges.setdefault((nodes[key(s)], nodes[key(t)]), set()).add(action)
    assert {e: set(graph.edges[e]["actions"]) for e in graph.edges} == edges


def test_dot_lays_the_quotient_out(tmp_path, capsys):
    dot = shutil.which("dot")
    if dot is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but Graphviz's dot is not installed (see .ci/setup-extra)")
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    path = tmp_path / "kms.dot"
    code, out, _ = _out(["graph", "--regions", "2", "--by", "key_state", "-o", str(path)], capsys)
    assert code == 0 and "43 abstract states" in out
    # The timeout only turns a hang into a failure (10 minutes was the report).
    laid = subprocess.run([dot, "-Tsvg", str(path)], capture_output=True, text=True, timeout=300)
    assert laid.returncode == 0 and "<svg" in laid.stdout, laid.stderr
